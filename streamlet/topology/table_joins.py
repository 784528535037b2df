"""The DSL of the stream-table and table-table equi-joins (Kafka Streams' KStream-KTable
and KTable-KTable joins); ``Stream.join`` and ``Table.join`` dispatch here.

Both inputs of a join must be co-partitioned: the join node reads the table's store, which
puts the stream (or the other table) and the table in one sub-topology, so they run in the
same task and the start-up check requires their topics to have equal partition counts.
A table that is not materialized (a ``filter`` or ``map_values`` of one) is materialized
in a store named from the join's ``name``.
"""

from __future__ import annotations

from typing import Any

from streamlet.errors import TopologyError
from streamlet.serde import Serde
from streamlet.serde.windowed import SessionWindowed, Windowed
from streamlet.topology.join_nodes import (
    Joiner,
    JoinKind,
    StreamTableJoinNode,
    TableTableJoinNode,
)
from streamlet.topology.stream import Stream, Table


def _check(what: str, this: Stream | Table, other: Table, joiner: Joiner) -> None:
    if other._builder is not this._builder:
        raise TopologyError(f"{what}: both sides must belong to the same App")
    if not callable(joiner):
        raise TopologyError(f"{what}: joiner must be a function (left_value, right_value)")
    if isinstance(other.key_serde, Windowed | SessionWindowed) or isinstance(
        this.key_serde, Windowed | SessionWindowed
    ):
        raise TopologyError(f"{what}: joining a windowed table is not supported")
    ours, theirs = this.key_serde, other.key_serde
    if ours is not None and theirs is not None and type(ours) is not type(theirs):
        # the partitioner hashes key bytes: equal keys written by two serdes would sit in
        # different partitions, so most would never meet their row
        raise TopologyError(
            f"{what}: the keys are written with {ours!r} on one side and {theirs!r} on the "
            "other, so equal keys land in different partitions; give both sides the same "
            "key serde (e.g. .repartition(name, key_serde=...))"
        )


def _store_of(table: Table, store: str | None, what: str) -> tuple[Table, str]:
    """The table and the store that materializes it, materializing it in ``store`` if needed."""
    if table.store is not None:
        return table, table.store
    if store is None:
        raise TopologyError(
            f"{what} joins a table that is not materialized (a filter or map_values of one): "
            "give the join a name= so its rows can be kept in a store named from it"
        )
    materialized = table.to_stream().to_table(store, value_serde=table.value_serde)
    return materialized, store


def join_stream_table(
    stream: Stream,
    table: Table,
    joiner: Joiner,
    kind: JoinKind,
    name: str | None,
    *,
    windows: object = None,
    key_mapper: object = None,
) -> Stream:
    """Each stream record joined with the table's current row of its key."""
    what = f"{'join' if kind is JoinKind.INNER else 'left_join'}() of a stream with a table"
    if kind is JoinKind.OUTER:
        raise TopologyError(
            "outer_join() of a stream with a table does not exist (as in Kafka Streams): only "
            "stream records trigger the join; use left_join()"
        )
    if windows is not None or key_mapper is not None:
        raise TopologyError(
            f"{what} takes no windows= or key_mapper=: it joins on the stream's key with the "
            "table's current row (re-key the stream with select_key and repartition first)"
        )
    _check(what, stream, table, joiner)
    if stream.key_changed:
        raise TopologyError(
            f"{what} after an operation that changed the key: the stream's records with a key "
            "may sit in another partition than the table's row; call .repartition(name) first"
        )
    b = stream._builder
    if name is not None:
        b.require_name(name, what)
    _, store = _store_of(table, None if name is None else f"{name}-table", what)
    node = StreamTableJoinNode(
        name or b.auto_name("stream-table-join"),
        (stream.node,),
        op="stream_table_join",
        stores=(store,),
        kind=kind,
        joiner=joiner,
        table_store=store,
    )
    b.add(node)
    return Stream(b, node.name, stream.key_serde, None)


def join_tables(
    left: Table,
    right: Table,
    joiner: Joiner,
    kind: JoinKind,
    name: str | None,
    value_serde: Serde[Any] | None,
) -> Table:
    """A table of ``joiner(left_row, right_row)`` per key, kept in the store ``name``."""
    what = {JoinKind.INNER: "join", JoinKind.LEFT: "left_join", JoinKind.OUTER: "outer_join"}[kind]
    what = f"{what}() of two tables"
    _check(what, left, right, joiner)
    b = left._builder
    name = b.require_name(name, what)
    left, left_store = _store_of(left, f"{name}-left", what)
    right, right_store = _store_of(right, f"{name}-right", what)
    vs = value_serde or b.default_value_serde
    b.add_store(name, left.key_serde, vs)
    sides = []
    for this, this_store, other_store, is_left in (
        (left, left_store, right_store, True),
        (right, right_store, left_store, False),
    ):
        node = TableTableJoinNode(
            f"{name}-join-{'left' if is_left else 'right'}",
            (this.node,),
            op="table_table_join",
            stores=(other_store, name),
            kind=kind,
            joiner=joiner,
            this_is_left=is_left,
            this_store=this_store,
            other_store=other_store,
            result_store=name,
        )
        sides.append(b.add(node))
    b.add_processor("merge", sides, name=name)
    return Table(b, name, left.key_serde, vs, name)
