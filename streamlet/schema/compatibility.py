"""Avro schema compatibility levels, decided by Apache Avro's own reader/writer checker.

``avro.compatibility.ReaderWriterCompatibilityChecker`` applies the specification's schema
resolution rules to one reader/writer pair. This module adds what a registry needs on top:
the levels (``BACKWARD`` = the new schema reads data written with the earlier one,
``FORWARD`` = the earlier schema reads data written with the new one, ``FULL`` = both), the
transitive walk (non-transitive levels check only the latest earlier schema, as Confluent's
registry does), and one :class:`Problem` per broken rule naming the field path.

The checker reports its findings as unordered sets; :class:`_TracingChecker` keeps each
rule paired with its location by recording results node by node, and restores the location
that avro drops when it descends into union branches. It adds no rule of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

import avro.errors
import avro.schema
from avro.compatibility import (
    ReaderWriter,
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
    schema_name_equals,
)

from streamlet.errors import StreamletError

SchemaSource = str | Mapping[str, Any] | Sequence[Any] | avro.schema.Schema
"""Avro schema JSON text (or a bare type name such as ``int``), its parsed JSON
(dict/list), or an ``avro.schema.Schema``."""


class Direction(Enum):
    """Which schema reads and which writes in one checked pair.

    ``BACKWARD``: the new schema reads data written with the earlier one (consumers upgrade
    first); ``FORWARD``: the earlier schema reads data written with the new one.
    """

    BACKWARD = "new reads old"
    FORWARD = "old reads new"


class Level(Enum):
    """Compatibility levels, named and defined as in Confluent's Schema Registry."""

    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    NONE = "NONE"

    @property
    def transitive(self) -> bool:
        """True when every earlier schema is checked, not only the latest."""
        return self.value.endswith("_TRANSITIVE")

    @property
    def directions(self) -> tuple[Direction, ...]:
        """The reader/writer directions this level requires (none for ``NONE``)."""
        base = self.value.removesuffix("_TRANSITIVE")
        return {
            "BACKWARD": (Direction.BACKWARD,),
            "FORWARD": (Direction.FORWARD,),
            "FULL": (Direction.BACKWARD, Direction.FORWARD),
        }.get(base, ())


@dataclass(frozen=True)
class Problem:
    """One broken resolution rule between the new schema and one earlier schema.

    ``version_index`` indexes the ``earlier_schemas`` given to :func:`check`; ``rule`` is
    avro's incompatibility type (``type_mismatch``, ``name_mismatch``,
    ``fixed_size_mismatch``, ``missing_enum_symbols``,
    ``reader_field_missing_default_value``, ``missing_union_branch``); ``path`` names the
    field in the reader schema (``Order.lines[].sku``; ``[]`` = array items, ``{}`` = map
    values); ``location`` is avro's JSON-pointer-like location in the reader schema.
    """

    version_index: int
    direction: Direction
    rule: str
    path: str
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}: {self.message} (at {self.location})"


@dataclass(frozen=True)
class CompatibilityResult:
    """The verdict of :func:`check`; ``problems`` is empty exactly when ``compatible``."""

    compatible: bool
    level: Level
    problems: tuple[Problem, ...] = ()

    def describe(self) -> str:
        """A multi-line, human-readable account of every problem."""
        if self.compatible:
            return f"compatible under {self.level.value}"
        lines = [f"incompatible under {self.level.value}:"]
        for p in self.problems:
            lines.append(f"  earlier #{p.version_index}, {p.direction.value}: {p}")
        return "\n".join(lines)


class SchemaCompatibilityError(StreamletError):
    """A schema was refused because it breaks the configured compatibility level."""

    def __init__(self, message: str, result: CompatibilityResult, **where: Any) -> None:
        super().__init__(message, **where)
        self.result = result


class InvalidSchemaError(StreamletError):
    """A schema could not be parsed as Avro; the message says which one and why."""


def parse_schema(source: SchemaSource, what: str = "schema") -> avro.schema.Schema:
    """``source`` as an avro ``Schema``; :class:`InvalidSchemaError` naming ``what`` if not."""
    if isinstance(source, avro.schema.Schema):
        return source
    try:
        if isinstance(source, str):
            bare = source.strip()[:1] not in ("{", "[", '"')
            text = json.dumps(source.strip()) if bare else source  # "int" names a type
        else:
            text = json.dumps(source)
        return avro.schema.parse(text)
    except (avro.errors.AvroException, TypeError, ValueError) as exc:
        raise InvalidSchemaError(f"{what} is not a valid Avro schema: {exc}") from exc


def check(
    new_schema: SchemaSource, earlier_schemas: Sequence[SchemaSource], level: Level
) -> CompatibilityResult:
    """Decide whether ``new_schema`` may follow ``earlier_schemas`` (oldest first) at ``level``.

    Non-transitive levels compare against the last earlier schema only; transitive levels
    against all of them. With no earlier schema, or ``Level.NONE``, the result is compatible.
    Raises :class:`InvalidSchemaError` if any schema does not parse.
    """
    new = parse_schema(new_schema, "the new schema")
    earlier = [parse_schema(s, f"earlier schema #{i}") for i, s in enumerate(earlier_schemas)]
    indices = range(len(earlier)) if level.transitive else range(len(earlier))[-1:]
    compatible = True
    problems: list[Problem] = []
    for index in indices:
        for direction in level.directions:
            old = earlier[index]
            reader, writer = (new, old) if direction is Direction.BACKWARD else (old, new)
            ok, leaves = _check_pair(reader, writer)
            compatible = compatible and ok
            problems.extend(
                Problem(index, direction, leaf.rule, _field_path(reader, leaf.location), *leaf[1:])
                for leaf in dict.fromkeys(leaves)
            )
    return CompatibilityResult(compatible, level, tuple(problems))


class _Leaf(NamedTuple):
    """One broken rule; stored in avro's incompatibilities list so merging keeps it whole."""

    rule: str
    location: str
    message: str


def _check_pair(reader: avro.schema.Schema, writer: avro.schema.Schema) -> tuple[bool, list[_Leaf]]:
    result = _TracingChecker().get_compatibility(reader, writer)
    ok = result.compatibility is SchemaCompatibilityType.compatible
    items: list[Any] = result.incompatibilities
    return ok, [x for x in items if isinstance(x, _Leaf)]


class _TracingChecker(ReaderWriterCompatibilityChecker):
    """avro's checker, pairing each rule with its location and message as results form."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._stack: list[list[str]] = []

    def get_compatibility(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        reference_token: str = ReaderWriterCompatibilityChecker.ROOT_REFERENCE_TOKEN,
        location: list[str] | None = None,
    ) -> SchemaCompatibilityResult:
        if location is None and self._stack:
            # avro restarts union branches at the root; keep the union's own location.
            *location, reference_token = self._stack[-1]
        return super().get_compatibility(reader, writer, reference_token, location)

    def calculate_compatibility(
        self, reader: avro.schema.Schema, writer: avro.schema.Schema, location: list[str]
    ) -> SchemaCompatibilityResult:
        self._stack.append(location)
        try:
            result = super().calculate_compatibility(reader, writer, location)
        finally:
            self._stack.pop()
        if result.compatibility is not SchemaCompatibilityType.incompatible:
            return result
        return self._pair_own_rules(result, reader, writer, location)

    def _pair_own_rules(
        self,
        result: SchemaCompatibilityResult,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        location: list[str],
    ) -> SchemaCompatibilityResult:
        """Turn this node's bare rules into ``_Leaf``s; children's are ``_Leaf``s already."""
        items: list[Any] = list(result.incompatibilities)
        own = [i for i, item in enumerate(items) if not isinstance(item, _Leaf)]
        if not own:
            return result
        taken = {item.location for item in items if isinstance(item, _Leaf)}
        places = sorted(result.locations - taken, key=_creation_order)
        if len(places) > len(own) and "/" in places:
            places.remove("/")  # avro's merge adds a stray root location
        here = "/".join(location)[1:] if len(location) > 1 else "/"
        places += [here] * (len(own) - len(places))
        locations, messages = set(result.locations), set(result.messages)
        for index, place in zip(own, places, strict=False):
            rule: SchemaIncompatibilityType = items[index]
            try:
                message = _explain(rule, place, reader, writer)
            except (AttributeError, IndexError, ValueError):
                message = "; ".join(sorted(result.messages))
            items[index] = _Leaf(rule.value, place, message)
        for index in reversed(own):
            if items[index].rule == SchemaIncompatibilityType.missing_union_branch.value:
                nested = self._union_details(reader, writer, items[index].location)
                items[index + 1 : index + 1] = nested
                locations |= {leaf.location for leaf in nested}
                messages |= {leaf.message for leaf in nested}
        return SchemaCompatibilityResult(result.compatibility, items, messages, locations)

    def _union_details(self, reader: _Node, writer: _Node, place: str) -> list[_Leaf]:
        """Why a same-named (or same-kind) reader branch could not read the writer's branch."""
        last = place.rsplit("/", 1)[-1]
        if writer.type == "union" and last.isdigit():
            writer = writer.schemas[int(last)]
        branches = reader.schemas if reader.type == "union" else [reader]
        for branch in branches:
            if branch.type != writer.type or branch.type not in _COMPLEX:
                continue
            if isinstance(branch, avro.schema.NamedSchema) and not schema_name_equals(
                branch, writer
            ):
                continue
            memo = self.memoize_map.get(ReaderWriter(branch, writer))
            if memo is not None:
                found: list[Any] = memo.incompatibilities
                return [x for x in found if isinstance(x, _Leaf)]
        return []


_COMPLEX = {"record", "enum", "fixed", "array", "map"}

_Node = Any
"""An ``avro.schema.Schema`` whose attributes (``fields``, ``schemas``, ...) follow its type."""


def _creation_order(location: str) -> tuple[int, int, str]:
    """Sort key matching the order in which avro creates one node's rules."""
    last = location.rsplit("/", 1)[-1]
    return (0 if last == "name" else 1, int(last) if last.isdigit() else -1, last)


def _label(schema: _Node) -> str:
    if isinstance(schema, avro.schema.NamedSchema):
        return f"{schema.type} {schema.fullname}"
    return str(schema.type)


def _explain(rule: SchemaIncompatibilityType, place: str, reader: _Node, writer: _Node) -> str:
    """A clear sentence for one rule broken at this reader/writer node."""
    last = place.rsplit("/", 1)[-1]
    kind = SchemaIncompatibilityType
    if rule is kind.type_mismatch:
        return f"reader type {_label(reader)} cannot read writer type {_label(writer)}"
    if rule is kind.name_mismatch:
        return (
            f"reader name {reader.fullname} differs from writer name {writer.fullname} "
            "and is not among the reader's aliases"
        )
    if rule is kind.fixed_size_mismatch:
        return f"reader fixed size {reader.size} differs from writer size {writer.size}"
    if rule is kind.missing_enum_symbols:
        missing = sorted(set(writer.symbols) - set(reader.symbols))
        return f"writer symbols {missing} are not in the reader enum, which has no default"
    if rule is kind.reader_field_missing_default_value:
        name = reader.fields[int(last)].name
        return f"reader field {name!r} has no default and the writer has no such field"
    if writer.type == "union" and last.isdigit():
        branch = writer.schemas[int(last)]
        return f"writer union branch {last} ({_label(branch)}) has no reader union branch"
    return f"no branch of the reader union can read writer type {_label(writer)}"


def _field_path(root: _Node, location: str) -> str:
    """``Order.lines[].sku`` for ``/fields/2/type/items/fields/0/type`` in ``root``."""
    node, parts = root, [root.name if isinstance(root, avro.schema.NamedSchema) else root.type]
    tokens = [t for t in location.split("/") if t]
    try:
        while tokens:
            token = tokens.pop(0)
            if token == "fields" and tokens:
                field = _branch(node, "record").fields[int(tokens.pop(0))]
                node = field.type
                parts.append(f".{field.name}")
                if tokens[:1] == ["type"]:
                    tokens.pop(0)
            elif token in ("items", "values"):
                node = _branch(node, "array" if token == "items" else "map")
                node = node.items if token == "items" else node.values
                parts.append("[]" if token == "items" else "{}")
            else:
                break  # name / size / symbols / a union branch: the node itself is meant
    except (AttributeError, IndexError, ValueError, StopIteration):
        return location
    return "".join(parts)


def _branch(node: _Node, kind: str) -> _Node:
    """``node`` itself, or its first union branch of type ``kind``."""
    if node.type == "union":
        return next(branch for branch in node.schemas if branch.type == kind)
    return node
