"""``GlobalTable``: a table every worker holds whole, and the stream joins that read it.

Kafka Streams' GlobalKTable: only stream records trigger a join, the stream needs no
co-partitioning with the table's topic (any record can look up any key), and a
``key_mapper(key, value)`` picks the table key from the stream record.
"""

from __future__ import annotations

from typing import Any

from streamlet.errors import TopologyError
from streamlet.serde import Serde
from streamlet.topology.builder import TopologyBuilder
from streamlet.topology.global_nodes import GlobalJoinNode, GlobalTableSpec, Joiner, KeyMapper
from streamlet.topology.stream import Stream


class GlobalTable:
    """The latest value per key of every partition of a topic, in every worker (Kafka
    Streams' GlobalKTable); only usable as the right side of ``Stream.join/left_join``."""

    def __init__(self, builder: TopologyBuilder, spec: GlobalTableSpec) -> None:
        self._builder = builder
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def topic(self) -> str:
        return self.spec.topic

    def __repr__(self) -> str:
        return f"GlobalTable(name={self.spec.name!r}, topic={self.spec.topic!r})"


def add_global_table(
    builder: TopologyBuilder,
    topic: str,
    name: str,
    key_serde: Serde[Any] | None,
    value_serde: Serde[Any] | None,
) -> GlobalTable:
    """Declare the global table ``name`` over ``topic`` (the app's default serdes unless given)."""
    spec = GlobalTableSpec(
        builder.require_name(name, "a global table"),
        topic,
        key_serde or builder.default_key_serde,
        value_serde or builder.default_value_serde,
    )
    builder.add_global_table(spec)
    return GlobalTable(builder, spec)


def join_global(
    stream: Stream,
    table: GlobalTable,
    joiner: Joiner,
    *,
    key_mapper: KeyMapper | None,
    windows: Any,
    name: str | None,
    left: bool,
) -> Stream:
    """``stream`` joined with ``table``: the stream's key, ``joiner(value, table_value)``.

    Without ``key_mapper`` the stream's key is the table key."""
    what = "left_join" if left else "join"
    if table._builder is not stream._builder:
        raise TopologyError(f"{what}() takes a global table of the same App")
    if windows is not None:
        raise TopologyError(f"{what}() with a global table takes no windows")
    if not callable(joiner):
        raise TopologyError(f"{what}() needs a joiner(stream_value, table_value)")
    b = stream._builder
    node = b.add(
        GlobalJoinNode(
            name or b.auto_name("global-left-join" if left else "global-join"),
            (stream.node,),
            table=table.spec.name,
            joiner=joiner,
            key_mapper=key_mapper or _stream_key,
            left=left,
        )
    )
    return Stream(b, node, stream.key_serde, None, stream.key_changed)


def _stream_key(key: Any, _value: Any) -> Any:
    return key
