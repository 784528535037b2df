"""``streamlet schema check`` through click's CliRunner: exit 0/1/2 and what it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streamlet.cli_schema import schema


def record(*fields: tuple[str, Any]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "Order",
        "fields": [{"name": name, "type": type_} for name, type_ in fields],
    }


@pytest.fixture
def write(tmp_path: Path) -> Any:
    def make(name: str, content: Any) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return make


def run(*args: str) -> Any:
    return CliRunner().invoke(schema, ["check", *args])


def test_check_exits_zero_when_new_schema_is_compatible(write: Any) -> None:
    old = write("v1.avsc", record(("id", "int")))
    new = write("v2.avsc", record(("id", "long")))
    result = run(new, old, "--level", "BACKWARD")
    assert result.exit_code == 0, result.output
    assert "compatible" in result.stdout and "BACKWARD" in result.stdout


def test_check_exits_one_and_prints_path_rule_when_incompatible(write: Any) -> None:
    old = write("v1.avsc", record(("id", "int")))
    new = write("v2.avsc", record(("id", "long"), ("note", "string")))
    result = run(new, old, "--level", "full")
    assert result.exit_code == 1, result.output
    assert "Order.note: reader_field_missing_default_value" in result.stdout
    assert "Order.id: type_mismatch" in result.stdout  # old int reader, new long writer
    assert "new reads old" in result.stdout and "old reads new" in result.stdout
    assert "INCOMPATIBLE" in result.stdout and "FULL" in result.stdout


def test_check_compares_every_old_schema_when_level_transitive(write: Any) -> None:
    v1 = write("v1.avsc", record(("x", "string")))
    v2 = write("v2.avsc", record())
    v3 = write("v3.avsc", {**record(), "fields": [{"name": "x", "type": "int", "default": 0}]})
    assert run(v3, v1, v2, "--level", "BACKWARD").exit_code == 0
    result = run(v3, v1, v2, "--level", "BACKWARD_TRANSITIVE")
    assert result.exit_code == 1
    assert f"{v1} (new reads old): Order.x: type_mismatch" in result.stdout


def test_check_defaults_to_backward_level(write: Any) -> None:
    old = write("v1.avsc", record(("id", "long")))
    new = write("v2.avsc", record(("id", "int")))
    result = run(new, old)
    assert result.exit_code == 1
    assert "breaks BACKWARD" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read schema file"),
        ("{not json", "is not JSON: Expecting property name"),
        ({"type": "record", "name": "X"}, "is not a valid Avro schema"),
        ('{"type": "rekord", "name": "X"}', "is not a valid Avro schema"),
    ],
    ids=["missing file", "invalid JSON", "record without fields", "unknown type"],
)
def test_check_exits_two_with_file_named_when_schema_unusable(
    write: Any, tmp_path: Path, content: Any, message: str
) -> None:
    good = write("good.avsc", record(("id", "int")))
    bad = str(tmp_path / "bad.avsc") if content is None else write("bad.avsc", content)
    result = run(good, bad)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "bad.avsc" in result.stderr
    assert result.stdout == ""


def test_check_exits_two_when_file_is_not_utf8(tmp_path: Path, write: Any) -> None:
    bad = tmp_path / "latin1.avsc"
    bad.write_bytes(b'"\xe9"')
    result = run(write("good.avsc", '"int"'), str(bad))
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


def test_check_exits_two_when_no_old_schema_or_unknown_level(write: Any) -> None:
    new = write("v2.avsc", '"int"')
    assert run(new).exit_code == 2
    assert run(new, new, "--level", "SIDEWAYS").exit_code == 2


@pytest.mark.parametrize(
    "extra",
    [
        ["--registry", "http://127.0.0.1:1"],
        ["--subject", "s"],
        ["old.avsc", "--registry", "http://127.0.0.1:1", "--subject", "s"],
        [],
    ],
)
def test_check_exits_two_when_registry_options_misused(write: Any, extra: list[str]) -> None:
    new = write("new.avsc", {"type": "record", "name": "R", "fields": []})
    write("old.avsc", {"type": "record", "name": "R", "fields": []})
    result = run(str(new), *extra)
    assert result.exit_code == 2
    assert "--registry" in result.output


def test_check_exits_two_when_registry_unreachable(write: Any) -> None:
    new = write("new.avsc", {"type": "record", "name": "R", "fields": []})
    result = run(str(new), "--registry", "http://127.0.0.1:1", "--subject", "s")
    assert result.exit_code == 2
    assert "unreachable" in result.output
    assert len(result.output.strip().splitlines()) == 1
