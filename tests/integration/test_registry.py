"""Avro schemas on the real Schema Registry (Apicurio, Confluent API): a FULL subject refuses
an incompatible evolution at the registry (409) and in streamlet first, with a field path;
``streamlet.schema.check`` reaches the registry's verdict on a table of evolutions at every
level; ``streamlet schema check --registry`` checks a candidate against a live subject.

Apicurio's ``POST /compatibility/subjects/S/versions/latest`` checks only the latest version
whatever the level, and ``.../versions`` checks every version whatever the level; what it
enforces on registration follows the level. So the registry's verdict per level is asked
of the endpoint that matches the level: ``latest`` for the plain levels, all versions for
the transitive ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    ServerConfig,
)

from streamlet.cli import main
from streamlet.schema import Level, SchemaCompatibilityError, check
from streamlet.serde.avro import Avro

pytestmark = pytest.mark.integration

LEVELS = [level for level in Level if level is not Level.NONE]


def record(*fields: dict[str, Any], name: str = "Reading") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "streamlet.tests", "fields": list(fields)}


def field(name: str, kind: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **extra}


def enum(*symbols: str) -> dict[str, Any]:
    return {"type": "enum", "name": "Colour", "symbols": list(symbols)}


SEQ = field("seq", "long")

# name -> (earlier versions oldest first, candidate)
EVOLUTIONS: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "add-with-default": ([record(SEQ)], record(SEQ, field("note", "string", default=""))),
    "add-without-default": ([record(SEQ)], record(SEQ, field("note", "string"))),
    "remove-with-default": ([record(SEQ, field("note", "string", default=""))], record(SEQ)),
    "remove-without-default": ([record(SEQ, field("note", "string"))], record(SEQ)),
    "promote-int-long": ([record(field("n", "int"))], record(field("n", "long"))),
    "demote-long-int": ([record(field("n", "long"))], record(field("n", "int"))),
    "promote-float-double": ([record(field("x", "float"))], record(field("x", "double"))),
    "string-to-bytes": ([record(field("b", "string"))], record(field("b", "bytes"))),
    "change-string-int": ([record(field("n", "string"))], record(field("n", "int"))),
    "enum-add-symbol": (
        [record(field("c", enum("RED", "GREEN")))],
        record(field("c", enum("RED", "GREEN", "BLUE"))),
    ),
    "enum-remove-symbol": (
        [record(field("c", enum("RED", "GREEN")))],
        record(field("c", enum("RED"))),
    ),
    "union-widen": ([record(field("n", "string"))], record(field("n", ["null", "string"]))),
    "union-narrow": (
        [record(field("n", ["null", "string"], default=None))],
        record(field("n", "string")),
    ),
    "union-add-branch": (
        [record(field("n", ["null", "string"], default=None))],
        record(field("n", ["null", "string", "long"], default=None)),
    ),
    "rename-record": ([record(SEQ)], record(SEQ, name="Measurement")),
    # compatible with the latest version only: the transitive levels tell them apart
    "readd-with-other-type": (
        [record(SEQ, field("n", "int")), record(SEQ)],
        record(SEQ, field("n", "string", default="")),
    ),
}


def _schema(obj: dict[str, Any]) -> Schema:
    return Schema(json.dumps(obj), "AVRO")


def _set_level(client: SchemaRegistryClient, subject: str, level: Level) -> None:
    client.set_config(subject, ServerConfig.from_dict({"compatibility": level.value}))


@pytest.fixture(scope="module")
def client(registry_url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry_url})


def _subject(stem: str) -> str:
    return f"t-{stem}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("case", list(EVOLUTIONS))
def test_check_agrees_with_registry_at_every_level(case: str, client: SchemaRegistryClient) -> None:
    history, candidate = EVOLUTIONS[case]
    subject = _subject(case)
    _set_level(client, subject, Level.NONE)
    for earlier in history:
        client.register_schema(subject, _schema(earlier))
    verdicts: dict[str, tuple[bool, bool]] = {}
    for level in LEVELS:
        _set_level(client, subject, level)
        if level.transitive:
            registry = client.test_compatibility_all_versions(subject, _schema(candidate))
        else:
            registry = client.test_compatibility(subject, _schema(candidate))
        verdicts[level.value] = (check(candidate, history, level).compatible, registry)
    disagree = {level: v for level, v in verdicts.items() if v[0] != v[1]}
    assert not disagree, f"{case}: (streamlet, registry) disagree at {disagree}"


def test_evolution_table_has_both_verdicts_at_every_level() -> None:
    """The agreement above means something only if every level sees both verdicts."""
    for level in LEVELS:
        verdicts = {check(new, old, level).compatible for old, new in EVOLUTIONS.values()}
        assert verdicts == {True, False}, level


def test_full_subject_refuses_incompatible_evolution_at_registry_and_in_streamlet(
    registry_url: str, client: SchemaRegistryClient
) -> None:
    topic = _subject("full")
    subject = f"{topic}-value"
    v1 = record(SEQ, field("note", "string"))
    v2 = record(SEQ, field("note", "string"), field("unit", "string"))  # no default
    assert Avro(v1, registry=registry_url, compatibility=Level.FULL).register(topic) > 0
    assert client.get_compatibility(subject) == "FULL"  # streamlet set the subject's level

    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, _schema(v2))
    assert refused.value.http_status_code == 409

    with pytest.raises(SchemaCompatibilityError) as caught:
        Avro(v2, registry=registry_url, compatibility=Level.FULL).register(topic)
    assert "Reading.unit" in caught.value.message
    assert "reader_field_missing_default_value" in caught.value.message
    assert client.get_versions(subject) == [1]  # refused before it reached the registry

    v2_ok = record(SEQ, field("note", "string"), field("unit", "string", default="C"))
    new_id = Avro(v2_ok, registry={"url": registry_url}, compatibility=Level.FULL).register(topic)
    assert client.get_version(subject, 2).schema_id == new_id


def _write(path: Path, schema: dict[str, Any]) -> str:
    path.write_text(json.dumps(schema))
    return str(path)


@pytest.fixture
def cli() -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["schema", "check", *args])

    return run


def test_cli_check_against_live_subject_exits_zero_one_two(
    registry_url: str, client: SchemaRegistryClient, cli: Callable[..., Any], tmp_path: Path
) -> None:
    subject = _subject("cli-value")
    v1, v2 = record(SEQ, field("n", "int")), record(SEQ)
    for earlier in (v1, v2):
        client.register_schema(subject, _schema(earlier))
    other_type = _write(tmp_path / "c.avsc", record(SEQ, field("n", "string", default="")))
    with_default = _write(tmp_path / "d.avsc", record(SEQ, field("w", "long", default=0)))
    live = ["--registry", registry_url, "--subject", subject]

    ok = cli(with_default, *live, "--level", "BACKWARD_TRANSITIVE")
    assert ok.exit_code == 0, ok.output
    assert "against 2 earlier schema(s)" in ok.output

    assert cli(other_type, *live, "--level", "FULL").exit_code == 0  # latest version only
    bad = cli(other_type, *live, "--level", "FULL_TRANSITIVE")
    assert bad.exit_code == 1, bad.output
    assert f"{subject} version 1 (new reads old): Reading.n: type_mismatch" in bad.output

    missing = cli(with_default, "--registry", registry_url, "--subject", _subject("none"))
    assert missing.exit_code == 2
    assert "has no subject" in missing.output
    assert len(missing.output.strip().splitlines()) == 1
