"""``streamlet schema``: Avro schema checks for CI pipelines.

``streamlet schema check NEW.avsc OLD.avsc ... --level FULL`` decides whether ``NEW`` may
follow the ``OLD`` schemas (given oldest first, as they were registered) under a Confluent
compatibility level. Exit status: 0 compatible, 1 incompatible (each problem printed with
its field path, rule and message), 2 when a schema file cannot be read or is not valid Avro.
The command only reads files and calls :func:`streamlet.schema.compatibility.check`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import avro.schema
import click

from streamlet.schema.compatibility import InvalidSchemaError, Level, check, parse_schema

EXIT_INCOMPATIBLE = 1
EXIT_INVALID = 2


@click.group(name="schema")
def schema() -> None:
    """Avro schema tools: compatibility checks for CI pipelines."""


@schema.command(name="check")
@click.argument("new", type=click.Path(path_type=Path))
@click.argument("old", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--level",
    type=click.Choice([level.value for level in Level], case_sensitive=False),
    default=Level.BACKWARD.value,
    show_default=True,
    help="Compatibility level; *_TRANSITIVE levels check every OLD schema, others the last.",
)
def check_command(new: Path, old: tuple[Path, ...], level: str) -> None:
    """Check NEW against the OLD schemas (oldest first) at --level; exit 1 if incompatible."""
    chosen = Level(level.upper())
    new_schema = _load(new)
    old_schemas = [_load(path) for path in old]
    result = check(new_schema, old_schemas, chosen)
    for problem in result.problems:
        click.echo(
            f"{old[problem.version_index]} ({problem.direction.value}): {problem.path}: "
            f"{problem.rule}: {problem.message} [at {problem.location}]"
        )
    checked = len(old) if chosen.transitive else min(len(old), 1)
    if not result.compatible:
        click.echo(
            f"INCOMPATIBLE: {new} breaks {chosen.value} "
            f"({len(result.problems)} problem(s) against {checked} earlier schema(s))"
        )
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)
    click.echo(f"compatible: {new} satisfies {chosen.value} against {checked} earlier schema(s)")


def _load(path: Path) -> avro.schema.Schema:
    """The Avro schema in ``path``; exits 2 with a precise message otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _invalid(f"cannot read schema file {path}: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        _invalid(f"schema file {path} is not UTF-8 text: byte {exc.start} is invalid")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        _invalid(
            f"schema file {path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )
    try:
        return parse_schema(obj, what=f"schema file {path}")
    except InvalidSchemaError as exc:
        _invalid(exc.message)


def _invalid(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_INVALID)
