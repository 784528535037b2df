"""Compatibility levels over avro's resolution rules: the specification's evolution cases,
the transitive walk, the named path and rule of each problem, and generated schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlet.errors import StreamletError
from streamlet.schema import (
    CompatibilityResult,
    Direction,
    InvalidSchemaError,
    Level,
    SchemaCompatibilityError,
    check,
)


def record(*fields: dict[str, Any], name: str = "R", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def field(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "E", "symbols": list(symbols), **extra}


# (case, old, new, backward ok, forward ok, rule named when backward fails / forward fails)
EVOLUTION = [
    (
        "field added with default",
        record(field("a", "int")),
        record(field("a", "int"), field("b", "int", default=0)),
        True,
        True,
    ),
    (
        "field added without default",
        record(field("a", "int")),
        record(field("a", "int"), field("b", "int")),
        False,
        True,
    ),
    (
        "field with default removed",
        record(field("a", "int"), field("b", "int", default=0)),
        record(field("a", "int")),
        True,
        True,
    ),
    (
        "field without default removed",
        record(field("a", "int"), field("b", "int")),
        record(field("a", "int")),
        True,
        False,
    ),
    ("int promoted to long", record(field("a", "int")), record(field("a", "long")), True, False),
    ("int promoted to float", "int", "float", True, False),
    ("long promoted to double", "long", "double", True, False),
    ("float promoted to double", "float", "double", True, False),
    ("string and bytes interchange", "string", "bytes", True, True),
    ("long narrowed to int", "long", "int", False, True),
    (
        "incompatible type change",
        record(field("a", "int")),
        record(field("a", "string")),
        False,
        False,
    ),
    (
        "field renamed with alias",
        record(field("a", "int")),
        record(field("b", "int", aliases=["a"])),
        True,
        False,
    ),
    (
        "record renamed with alias",
        record(field("a", "int")),
        record(field("a", "int"), name="S", aliases=["R"]),
        True,
        False,
    ),
    (
        "record renamed without alias",
        record(field("a", "int")),
        record(field("a", "int"), name="S"),
        False,
        False,
    ),
    ("enum symbol added", enum("A", "B"), enum("A", "B", "C"), True, False),
    ("enum symbol removed", enum("A", "B", "C"), enum("A", "B"), False, True),
    (
        "enum symbol added, old reader has a default",
        enum("A", "B", default="A"),
        enum("A", "B", "C", default="A"),
        True,
        True,
    ),
    ("union widened", ["null", "string"], ["null", "string", "int"], True, False),
    ("union narrowed", ["null", "string", "int"], ["null", "string"], False, True),
    ("type made optional", "string", ["null", "string"], True, False),
    (
        "fixed size changed",
        {"type": "fixed", "name": "F", "size": 4},
        {"type": "fixed", "name": "F", "size": 8},
        False,
        False,
    ),
    (
        "array items promoted",
        {"type": "array", "items": "int"},
        {"type": "array", "items": "long"},
        True,
        False,
    ),
    (
        "map values promoted",
        {"type": "map", "values": "float"},
        {"type": "map", "values": "double"},
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"),
    [case[1:] for case in EVOLUTION],
    ids=[case[0] for case in EVOLUTION],
)
def test_check_follows_avro_specification_for_evolution_case(
    old: Any, new: Any, backward: bool, forward: bool
) -> None:
    assert check(new, [old], Level.BACKWARD).compatible is backward
    assert check(new, [old], Level.FORWARD).compatible is forward
    assert check(new, [old], Level.FULL).compatible is (backward and forward)
    assert check(new, [old], Level.NONE).compatible


@pytest.mark.parametrize(
    ("old", "new", "level", "rule", "path", "location"),
    [
        (
            record(field("a", "int")),
            record(field("a", "int"), field("b", "int")),
            Level.BACKWARD,
            "reader_field_missing_default_value",
            "R.b",
            "/fields/1",
        ),
        (
            record(field("a", "int")),
            record(field("a", "string")),
            Level.BACKWARD,
            "type_mismatch",
            "R.a",
            "/fields/0/type",
        ),
        (
            enum("A", "B", "C"),
            enum("A", "B"),
            Level.BACKWARD,
            "missing_enum_symbols",
            "E",
            "/symbols",
        ),
        (
            ["null", "string", "int"],
            ["null", "string"],
            Level.BACKWARD,
            "missing_union_branch",
            "union",
            "/2",
        ),
        (
            record(field("a", "int")),
            record(field("a", "int"), name="S"),
            Level.BACKWARD,
            "name_mismatch",
            "S",
            "/name",
        ),
        (
            {"type": "fixed", "name": "F", "size": 4},
            {"type": "fixed", "name": "F", "size": 8},
            Level.FORWARD,
            "fixed_size_mismatch",
            "F",
            "/size",
        ),
    ],
)
def test_check_names_rule_path_and_location_when_incompatible(
    old: Any, new: Any, level: Level, rule: str, path: str, location: str
) -> None:
    result = check(new, [old], level)
    assert not result.compatible
    assert [(p.rule, p.path, p.location) for p in result.problems] == [(rule, path, location)]
    assert result.problems[0].message


def test_check_names_nested_field_paths_when_deeply_incompatible() -> None:
    def order(sku: str, zip_: str) -> dict[str, Any]:
        line = record(field("sku", sku), name="Line")
        address = record(field("zip", zip_), name="Address")
        return record(
            field("lines", {"type": "array", "items": line}),
            field("tags", {"type": "map", "values": {"type": "array", "items": sku}}),
            field("ship_to", ["null", address], default=None),
            name="Order",
        )

    result = check(order("string", "int"), [order("int", "string")], Level.BACKWARD)

    found = {(p.path, p.rule) for p in result.problems}
    assert ("Order.lines[].sku", "type_mismatch") in found
    assert ("Order.tags{}[]", "type_mismatch") in found
    assert ("Order.ship_to", "missing_union_branch") in found
    assert ("Order.ship_to.zip", "type_mismatch") in found


def test_check_handles_recursive_schema_when_field_type_changes() -> None:
    def node(value_type: str) -> dict[str, Any]:
        next_ = field("next", ["null", "Node"], default=None)
        return record(field("value", value_type), next_, name="Node")

    assert check(node("int"), [node("int")], Level.FULL_TRANSITIVE).compatible
    result = check(node("string"), [node("int")], Level.BACKWARD)
    assert [(p.path, p.rule) for p in result.problems] == [("Node.value", "type_mismatch")]


def test_check_reports_every_missing_field_separately() -> None:
    new = record(field("a", "int"), field("b", "int"), field("c", "string"))
    result = check(new, [record(field("a", "int"))], Level.BACKWARD)
    assert [(p.path, p.rule) for p in result.problems] == [
        ("R.b", "reader_field_missing_default_value"),
        ("R.c", "reader_field_missing_default_value"),
    ]
    assert "'b'" in result.problems[0].message


def test_check_reports_both_directions_when_full_fails_both_ways() -> None:
    result = check(record(field("a", "string")), [record(field("a", "int"))], Level.FULL)
    assert [p.direction for p in result.problems] == [Direction.BACKWARD, Direction.FORWARD]
    assert "new reads old" in result.describe() and "old reads new" in result.describe()


def test_check_compares_only_latest_when_level_not_transitive() -> None:
    v1 = record(field("x", "string"))
    v2 = record()
    v3 = record(field("x", "int", default=0))
    assert check(v3, [v1, v2], Level.BACKWARD).compatible
    transitive = check(v3, [v1, v2], Level.BACKWARD_TRANSITIVE)
    assert not transitive.compatible
    assert [(p.version_index, p.path) for p in transitive.problems] == [(0, "R.x")]


def test_check_compares_every_version_when_level_transitive() -> None:
    v1 = record(field("a", "int"))
    v2 = record(field("a", "int"), field("b", "int", default=1))
    v3 = record(field("a", "int"), field("b", "int", default=1), field("c", "int", default=2))
    for level in Level:
        assert check(v3, [v1, v2], level).compatible, level


@pytest.mark.parametrize("level", list(Level))
def test_check_is_compatible_when_no_earlier_schema(level: Level) -> None:
    assert check(record(field("a", "int")), [], level) == CompatibilityResult(True, level, ())


def test_level_properties_match_confluent_definitions() -> None:
    assert Level.FULL.directions == (Direction.BACKWARD, Direction.FORWARD)
    assert Level.FORWARD_TRANSITIVE.directions == (Direction.FORWARD,)
    assert Level.NONE.directions == ()
    assert [lvl.transitive for lvl in Level] == [False, True, False, True, False, True, False]


def test_check_accepts_json_text_and_raises_on_invalid_schema() -> None:
    assert check('{"type": "array", "items": "int"}', ['"int"'], Level.NONE).compatible
    with pytest.raises(InvalidSchemaError, match="earlier schema #1"):
        check("int", ['"int"', {"type": "record", "fields": []}], Level.BACKWARD)
    with pytest.raises(InvalidSchemaError, match="new schema"):
        check("{not json", ['"int"'], Level.BACKWARD)
    assert issubclass(InvalidSchemaError, StreamletError)
    assert issubclass(SchemaCompatibilityError, StreamletError)


# Generated schemas: a record whose fields nest records, arrays, maps, enums and unions.
_PRIMITIVES = st.sampled_from(["boolean", "int", "long", "float", "double", "bytes", "string"])


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        children.map(lambda c: {"type": "array", "items": c}),
        children.map(lambda c: {"type": "map", "values": c}),
        st.lists(children, max_size=3).map(lambda cs: record(*(field("f", c) for c in cs))),
        st.integers(1, 4).map(lambda n: enum(*(f"S{i}" for i in range(n)))),
        _PRIMITIVES.map(lambda p: ["null", p]),
    )


def _named(schema: Any, counter: list[int]) -> Any:
    """Give every named type and field a unique name (generated ones all repeat R/E/f)."""
    if isinstance(schema, list):
        return [_named(s, counter) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out["type"] in ("record", "enum"):
        counter[0] += 1
        out["name"] = f"N{counter[0]}"
    if out["type"] == "record":
        out["fields"] = [
            field(f"f{i}", _named(f["type"], counter)) for i, f in enumerate(schema["fields"])
        ]
    if out["type"] == "array":
        out["items"] = _named(schema["items"], counter)
    if out["type"] == "map":
        out["values"] = _named(schema["values"], counter)
    return out


SCHEMAS = (
    st.lists(st.recursive(_PRIMITIVES, _extend, max_leaves=6), min_size=1, max_size=4)
    .map(lambda types: record(*(field("f", t) for t in types)))
    .map(lambda r: _named(r, [0]))
)


@settings(max_examples=60, deadline=None)
@given(SCHEMAS)
def test_check_finds_generated_schema_fully_compatible_with_itself(schema: Any) -> None:
    assert check(schema, [schema, copy.deepcopy(schema)], Level.FULL_TRANSITIVE).compatible


@settings(max_examples=60, deadline=None)
@given(SCHEMAS, _PRIMITIVES)
def test_check_accepts_field_added_with_default_under_full(schema: Any, type_: str) -> None:
    default = {"boolean": False, "bytes": "", "string": ""}.get(type_, 0)
    new = copy.deepcopy(schema)
    new["fields"].append(field("added", ["null", type_], default=None))
    new["fields"].append(field("added2", type_, default=default))
    assert check(new, [schema], Level.FULL).compatible


@settings(max_examples=60, deadline=None)
@given(SCHEMAS, _PRIMITIVES)
def test_check_rejects_field_added_without_default_naming_it(schema: Any, type_: str) -> None:
    new = copy.deepcopy(schema)
    new["fields"].append(field("required", type_))
    result = check(new, [schema], Level.FULL)
    assert not result.compatible
    name = schema["name"]
    assert [(p.direction, p.rule, p.path) for p in result.problems] == [
        (Direction.BACKWARD, "reader_field_missing_default_value", f"{name}.required")
    ]
    assert check(new, [schema], Level.FORWARD).compatible
