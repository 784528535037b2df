"""``streamlet schema``: Avro schema checks for CI pipelines.

``streamlet schema check NEW.avsc OLD.avsc ... --level FULL`` decides whether ``NEW`` may
follow the ``OLD`` schemas (given oldest first, as they were registered) under a Confluent
compatibility level. ``streamlet schema check NEW.avsc --registry URL --subject S`` takes
the earlier schemas from a live Confluent-API registry instead: every version of subject
``S``, oldest first. Exit status: 0 compatible, 1 incompatible (each problem printed with
its field path, rule and message), 2 on a usage error, when a schema file cannot be read or
is not valid Avro, or when the registry cannot be reached or has no such subject.
The verdict is always :func:`streamlet.schema.compatibility.check`'s; the registry is only
read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import avro.schema
import click

from streamlet.schema.compatibility import InvalidSchemaError, Level, check, parse_schema
from streamlet.schema.registry_versions import RegistryVersionsError, subject_versions

EXIT_INCOMPATIBLE = 1
EXIT_INVALID = 2


@click.group(name="schema")
def schema() -> None:
    """Avro schema tools: compatibility checks for CI pipelines."""


@schema.command(name="check")
@click.argument("new", type=click.Path(path_type=Path))
@click.argument("old", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--level",
    type=click.Choice([level.value for level in Level], case_sensitive=False),
    default=Level.BACKWARD.value,
    show_default=True,
    help="Compatibility level; *_TRANSITIVE levels check every OLD schema, others the last.",
)
@click.option(
    "--registry",
    metavar="URL",
    help="Confluent-API registry base URL to take the OLD schemas from (with --subject).",
)
@click.option("--subject", help="The registry subject whose versions are the OLD schemas.")
def check_command(
    new: Path, old: tuple[Path, ...], level: str, registry: str | None, subject: str | None
) -> None:
    """Check NEW against the OLD schemas (oldest first), or against every version of
    --subject on --registry, at --level; exit 1 if incompatible."""
    chosen = Level(level.upper())
    new_schema = _load(new)
    labels: list[str]
    if registry is not None or subject is not None:
        if registry is None or subject is None or old:
            _invalid("--registry and --subject go together, and replace the OLD schema files")
        try:
            versions = subject_versions(registry, subject)
        except RegistryVersionsError as exc:
            _invalid(exc.message)
        labels = [f"{subject} version {number}" for number, _ in versions]
        old_schemas = [
            _parse(text, f"{subject} version {number} from {registry}") for number, text in versions
        ]
    elif not old:
        _invalid("give the OLD schema files, or --registry URL --subject S")
    else:
        labels = [str(path) for path in old]
        old_schemas = [_load(path) for path in old]
    result = check(new_schema, old_schemas, chosen)
    for problem in result.problems:
        click.echo(
            f"{labels[problem.version_index]} ({problem.direction.value}): {problem.path}: "
            f"{problem.rule}: {problem.message} [at {problem.location}]"
        )
    checked = len(labels) if chosen.transitive else min(len(labels), 1)
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
    return _parse(obj, f"schema file {path}")


def _parse(source: str | dict[str, object] | list[object], what: str) -> avro.schema.Schema:
    try:
        return parse_schema(source, what=what)
    except InvalidSchemaError as exc:
        _invalid(exc.message)


def _invalid(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_INVALID)
