"""The Avro serde on confluent_kafka's mock Schema Registry client: wire format, subjects,
evolution by reader-schema resolution, compatibility refusal, and generated round trips."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlet.errors import ConfigError, SerializationError
from streamlet.schema import InvalidSchemaError, Level, SchemaCompatibilityError
from streamlet.serde import Serde
from streamlet.serde.avro import Avro, ConfluentRegistry, SubjectNameStrategy

USER_V1 = {
    "type": "record",
    "name": "User",
    "namespace": "acme",
    "fields": [{"name": "name", "type": "string"}, {"name": "visits", "type": "int"}],
}


def user(*extra_fields: dict[str, Any], **changes: Any) -> dict[str, Any]:
    schema = {**USER_V1, **changes}
    schema["fields"] = [*schema["fields"], *extra_fields]
    return schema


def mock_registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://streamlet-tests"})


class CountingRegistry(ConfluentRegistry):
    """The mock behind the serde's registry protocol, counting calls and levels set."""

    def __init__(self) -> None:
        super().__init__(mock_registry())
        self.calls: list[str] = []
        self.levels: dict[str, Level] = {}

    def register(self, subject: str, schema: str) -> int:
        self.calls.append("register")
        return super().register(subject, schema)

    def lookup(self, subject: str, schema: str) -> int | None:
        self.calls.append("lookup")
        return super().lookup(subject, schema)

    def set_compatibility(self, subject: str, level: Level) -> None:
        self.levels[subject] = level
        super().set_compatibility(subject, level)


class BrokenRegistry(CountingRegistry):
    def lookup(self, subject: str, schema: str) -> int | None:
        raise ConnectionError("registry unreachable")

    def schema_by_id(self, schema_id: int) -> str | None:
        raise ConnectionError("registry unreachable")


def test_serialize_writes_magic_byte_schema_id_and_body() -> None:
    registry = mock_registry()
    data = Avro(USER_V1, registry=registry).serialize("users", {"name": "ann", "visits": 2})
    assert data is not None
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == registry.get_latest_version("users-value").schema_id
    assert data[5:] == b"\x06ann\x04"


def test_serialize_and_deserialize_map_none_to_none() -> None:
    serde = Avro(USER_V1, registry=mock_registry())
    assert serde.serialize("users", None) is None
    assert serde.deserialize("users", None) is None
    assert isinstance(serde, Serde)


def test_serialize_registers_once_and_caches_id() -> None:
    registry = CountingRegistry()
    serde = Avro(USER_V1, registry=registry)
    for visits in range(3):
        serde.serialize("users", {"name": "ann", "visits": visits})
    assert registry.calls == ["lookup", "register"]


@pytest.mark.parametrize(
    ("strategy", "is_key", "subject"),
    [
        (SubjectNameStrategy.TOPIC, False, "users-value"),
        (SubjectNameStrategy.TOPIC, True, "users-key"),
        (SubjectNameStrategy.RECORD, False, "acme.User"),
        (SubjectNameStrategy.TOPIC_RECORD, True, "users-acme.User"),
    ],
)
def test_serialize_registers_under_subject_named_by_strategy(
    strategy: SubjectNameStrategy, is_key: bool, subject: str
) -> None:
    registry = mock_registry()
    serde = Avro(USER_V1, registry=registry, is_key=is_key, subject_strategy=strategy)
    serde.serialize("users", {"name": "ann", "visits": 1})
    assert serde.subject("users") == subject
    assert registry.get_subjects() == [subject]


def test_init_raises_config_error_when_record_strategy_has_unnamed_schema() -> None:
    with pytest.raises(ConfigError, match="RECORD"):
        Avro("string", registry=mock_registry(), subject_strategy=SubjectNameStrategy.RECORD)


def test_init_raises_invalid_schema_error_when_schema_is_not_avro() -> None:
    with pytest.raises(InvalidSchemaError, match="invalid"):
        Avro({"type": "rekord", "name": "X"}, registry=mock_registry())


def test_deserialize_returns_writer_datum_when_no_reader_schema() -> None:
    registry = mock_registry()
    data = Avro(USER_V1, registry=registry).serialize("users", {"name": "ann", "visits": 2})
    assert Avro(registry=registry).deserialize("users", data) == {"name": "ann", "visits": 2}


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        (
            user({"name": "plan", "type": "string", "default": "free"}),
            {"name": "ann", "visits": 2, "plan": "free"},
        ),
        (user(fields=[{"name": "name", "type": "string"}]), {"name": "ann"}),
        (
            user(fields=[{"name": "name", "type": "string"}, {"name": "visits", "type": "long"}]),
            {"name": "ann", "visits": 2},
        ),
        (
            user(
                fields=[
                    {"name": "name", "type": "string"},
                    {"name": "count", "type": "int", "aliases": ["visits"]},
                ]
            ),
            {"name": "ann", "count": 2},
        ),
        (
            user(
                fields=[
                    {"name": "name", "type": "string"},
                    {"name": "visits", "type": ["null", "int"]},
                ]
            ),
            {"name": "ann", "visits": 2},
        ),
    ],
    ids=[
        "field added with default",
        "field removed",
        "int promoted to long",
        "field renamed with alias",
        "union widened",
    ],
)
def test_deserialize_resolves_writer_schema_into_reader_schema(
    reader: dict[str, Any], expected: dict[str, Any]
) -> None:
    registry = mock_registry()
    data = Avro(USER_V1, registry=registry).serialize("users", {"name": "ann", "visits": 2})
    assert Avro(reader, registry=registry).deserialize("users", data) == expected


def test_deserialize_reads_enum_symbol_unknown_to_reader_as_its_default() -> None:
    registry = mock_registry()
    writer = {"type": "enum", "name": "Tier", "symbols": ["FREE", "PRO", "TEAM"]}
    reader = {**writer, "symbols": ["FREE", "PRO"], "default": "FREE"}
    data = Avro(writer, registry=registry).serialize("tiers", "TEAM")
    assert Avro(reader, registry=registry).deserialize("tiers", data) == "FREE"


def test_deserialize_raises_when_writer_cannot_be_resolved_into_reader() -> None:
    registry = mock_registry()
    data = Avro(USER_V1, registry=registry).serialize("users", {"name": "ann", "visits": 2})
    reader = user({"name": "plan", "type": "string"})  # new field without a default
    with pytest.raises(SerializationError, match="cannot be resolved into the reader schema"):
        Avro(reader, registry=registry).deserialize("users", data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x01", "3 bytes is too short"),
        (b"\x01\x00\x00\x00\x01\x02", "unknown magic byte 0x01"),
        (b"\x00\x00\x00\x30\x39\x02", "unknown schema id 12345"),
    ],
    ids=["truncated header", "unknown magic byte", "unknown schema id"],
)
def test_deserialize_raises_serialization_error_when_framing_is_bad(
    data: bytes, message: str
) -> None:
    with pytest.raises(SerializationError, match=message) as caught:
        Avro(USER_V1, registry=mock_registry()).deserialize("users", data)
    assert caught.value.topic == "users"


def test_deserialize_raises_when_body_is_truncated_or_has_trailing_bytes() -> None:
    registry = mock_registry()
    serde = Avro(USER_V1, registry=registry)
    data = serde.serialize("users", {"name": "ann", "visits": 2})
    assert data is not None
    with pytest.raises(SerializationError, match="truncated or corrupt"):
        serde.deserialize("users", data[:-2])
    with pytest.raises(SerializationError, match="2 unread bytes"):
        serde.deserialize("users", data + b"\x00\x00")


def test_serialize_raises_when_value_does_not_match_schema() -> None:
    with pytest.raises(SerializationError, match="does not match Avro schema id"):
        Avro(USER_V1, registry=mock_registry()).serialize("users", {"name": 7, "visits": 1})


def test_serialize_raises_when_serde_has_no_schema() -> None:
    with pytest.raises(SerializationError, match="no schema to write with"):
        Avro(registry=mock_registry()).serialize("users", {"name": "ann"})


def test_serialize_raises_when_schema_unregistered_and_auto_register_off() -> None:
    serde = Avro(USER_V1, registry=mock_registry(), auto_register=False)
    with pytest.raises(SerializationError, match="auto_register is off"):
        serde.serialize("users", {"name": "ann", "visits": 1})


def test_serialize_uses_registered_id_when_auto_register_off() -> None:
    registry = mock_registry()
    schema_id = Avro(USER_V1, registry=registry).register("users")
    data = Avro(USER_V1, registry=registry, auto_register=False).serialize(
        "users", {"name": "ann", "visits": 1}
    )
    assert data is not None and struct.unpack(">I", data[1:5])[0] == schema_id


def test_serialize_and_deserialize_raise_when_registry_fails() -> None:
    with pytest.raises(SerializationError, match="registry unreachable"):
        Avro(USER_V1, registry=BrokenRegistry()).serialize("users", {"name": "a", "visits": 1})
    with pytest.raises(SerializationError, match="failed to return schema id 1"):
        Avro(USER_V1, registry=BrokenRegistry()).deserialize("users", b"\x00\x00\x00\x00\x01")


def test_register_sets_level_and_registers_compatible_schema() -> None:
    registry = CountingRegistry()
    Avro(USER_V1, registry=registry, compatibility=Level.FULL).register("users")
    v2 = user({"name": "plan", "type": "string", "default": "free"})
    Avro(v2, registry=registry, compatibility=Level.FULL).register("users")
    assert registry.levels == {"users-value": Level.FULL}
    assert registry.versions("users-value") == [
        registry.client.get_version("users-value", n).schema.schema_str for n in (1, 2)
    ]


def test_register_refuses_incompatible_schema_naming_path_and_rule() -> None:
    registry = CountingRegistry()
    Avro(USER_V1, registry=registry).register("users")
    v2 = user({"name": "plan", "type": "string"})  # no default: breaks BACKWARD
    with pytest.raises(SchemaCompatibilityError, match=r"User\.plan") as caught:
        Avro(v2, registry=registry, compatibility=Level.BACKWARD).register("users")
    [problem] = caught.value.result.problems
    assert (problem.rule, problem.path) == ("reader_field_missing_default_value", "User.plan")
    assert registry.calls.count("register") == 1  # the mock would have accepted it
    assert registry.levels == {}


def test_serialize_raises_serialization_error_when_schema_is_incompatible() -> None:
    registry = mock_registry()
    Avro(USER_V1, registry=registry).register("users")
    changed = user(fields=[{"name": "name", "type": "long"}])
    serde = Avro(changed, registry=registry, compatibility=Level.FULL_TRANSITIVE)
    with pytest.raises(SerializationError, match=r"User\.name: type_mismatch") as caught:
        serde.serialize("users", {"name": 1})
    assert isinstance(caught.value.__cause__, SchemaCompatibilityError)


def test_register_checks_every_version_only_when_level_transitive() -> None:
    v1 = user(fields=[{"name": "name", "type": "string"}])
    v2 = user(fields=[])
    v3 = user(fields=[{"name": "name", "type": "int", "default": 0}])  # fine after v2 only

    def history() -> SchemaRegistryClient:
        registry = mock_registry()
        for schema in (v1, v2):
            Avro(schema, registry=registry).register("users")
        return registry

    Avro(v3, registry=history(), compatibility=Level.BACKWARD).register("users")
    transitive = Avro(v3, registry=history(), compatibility=Level.BACKWARD_TRANSITIVE)
    with pytest.raises(SchemaCompatibilityError, match=r"earlier #0, new reads old: User\.name"):
        transitive.register("users")


def test_confluent_registry_sets_subject_compatibility_through_set_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = mock_registry()
    seen: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        client, "set_config", lambda subject, config: seen.append((subject, config))
    )
    ConfluentRegistry(client).set_compatibility("users-value", Level.FULL_TRANSITIVE)
    [(subject, config)] = seen
    assert subject == "users-value"
    assert config.to_dict() == {"compatibility": "FULL_TRANSITIVE"}


def test_confluent_registry_reports_unknown_subject_and_id_as_absent() -> None:
    registry = ConfluentRegistry(mock_registry())
    assert registry.versions("nothing-value") == []
    assert registry.lookup("nothing-value", '"string"') is None
    assert registry.schema_by_id(999) is None


# Generated schemas and datums: a record nesting records, arrays, maps, enums, fixed, unions.
_LEAVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=8),
    "string": st.text(max_size=8),
}
_PRIMITIVE = st.sampled_from(sorted(_LEAVES))
# Union branches a writer cannot confuse with each other (e.g. no int next to long).
_UNIONS = st.lists(
    st.sampled_from(["null", "boolean", "string", "double"]), min_size=1, max_size=3, unique=True
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    complex_child = children.filter(lambda c: not isinstance(c, list) and c != "null")
    return st.one_of(
        children.map(lambda c: {"type": "array", "items": c}),
        children.map(lambda c: {"type": "map", "values": c}),
        st.lists(children, max_size=3).map(
            lambda cs: {
                "type": "record",
                "name": "R",
                "fields": [{"name": "f", "type": c} for c in cs],
            }
        ),
        st.integers(1, 3).map(
            lambda n: {"type": "enum", "name": "E", "symbols": [f"S{i}" for i in range(n)]}
        ),
        st.integers(0, 4).map(lambda n: {"type": "fixed", "name": "F", "size": n}),
        st.tuples(st.just("null"), complex_child).map(list),
        _UNIONS,
    )


def _named(schema: Any, counter: list[int]) -> Any:
    """Unique names for every named type and field (the generator repeats R/E/F/f)."""
    if isinstance(schema, list):
        return [_named(s, counter) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "name" in out:
        counter[0] += 1
        out["name"] = f"{out['name']}{counter[0]}"
    if out["type"] == "record":
        out["fields"] = [
            {"name": f"f{i}", "type": _named(f["type"], counter)}
            for i, f in enumerate(out["fields"])
        ]
    for key in ("items", "values"):
        if key in out:
            out[key] = _named(out[key], counter)
    return out


def datums(schema: Any) -> st.SearchStrategy[Any]:
    """Values valid for ``schema``."""
    if isinstance(schema, str):
        return _LEAVES[schema]
    if isinstance(schema, list):
        return st.one_of([datums(branch) for branch in schema])
    kind = schema["type"]
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: datums(f["type"]) for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(datums(schema["items"]), max_size=3)
    return st.dictionaries(st.text(max_size=4), datums(schema["values"]), max_size=3)


SCHEMAS = (
    st.lists(st.recursive(_PRIMITIVE, _extend, max_leaves=6), min_size=1, max_size=4)
    .map(
        lambda ts: {
            "type": "record",
            "name": "Top",
            "fields": [{"name": "f", "type": t} for t in ts],
        }
    )
    .map(lambda s: _named(s, [0]))
)


@settings(max_examples=50, deadline=None)
@given(st.data(), SCHEMAS)
def test_serialize_then_deserialize_round_trips_generated_datum(
    data: st.DataObject, schema: dict[str, Any]
) -> None:
    datum = data.draw(datums(schema), label="datum")
    registry = mock_registry()
    encoded = Avro(schema, registry=registry).serialize("generated", datum)
    assert encoded is not None and encoded[0] == 0
    assert Avro(schema, registry=registry).deserialize("generated", encoded) == datum
    assert Avro(registry=registry).deserialize("generated", encoded) == datum


@settings(max_examples=40, deadline=None)
@given(st.data(), SCHEMAS)
def test_deserialize_fills_default_when_generated_schema_gains_field(
    data: st.DataObject, schema: dict[str, Any]
) -> None:
    datum = data.draw(datums(schema), label="datum")
    evolved = {
        **schema,
        "fields": [*schema["fields"], {"name": "added", "type": ["null", "long"], "default": None}],
    }
    registry = mock_registry()
    old = Avro(schema, registry=registry, compatibility=Level.FULL)
    new = Avro(evolved, registry=registry, compatibility=Level.FULL)
    assert new.deserialize("t", old.serialize("t", datum)) == {**datum, "added": None}
    assert old.deserialize("t", new.serialize("t", {**datum, "added": 5})) == datum


def test_registry_url_string_builds_a_client() -> None:
    serde = Avro(USER_V1, registry="mock://streamlet-url-string")
    data = serde.serialize("users", {"name": "ada", "visits": 3})
    assert serde.deserialize("users", data) == {"name": "ada", "visits": 3}


def test_registry_config_dict_builds_a_client() -> None:
    serde = Avro(USER_V1, registry={"url": "mock://streamlet-url-dict"})
    data = serde.serialize("users", {"name": "ada", "visits": 3})
    assert serde.deserialize("users", data) == {"name": "ada", "visits": 3}


@pytest.mark.parametrize(
    "registry",
    ["localhost:8081", "ftp://registry", {"basic.auth.user.info": "u:p"}, {"url": ""}],
)
def test_registry_config_rejected_when_url_unusable(registry: Any) -> None:
    with pytest.raises(ConfigError, match="schema registry"):
        Avro(USER_V1, registry=registry)


def test_registry_config_rejected_when_client_setting_unknown() -> None:
    with pytest.raises(ConfigError, match="invalid"):
        Avro(USER_V1, registry={"url": "http://127.0.0.1:1", "no.such.setting": "x"})
