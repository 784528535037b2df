"""The DSL: ``Stream``, ``Splitter``, ``GroupedStream`` and ``Table``.

Each method adds one node and returns a new handle; nothing runs here. Key functions take
``(key, value)``, value functions take ``value``. Serdes follow the data: an operation that
keeps the key keeps its serde; an operation that changes it forgets it, and a later
repartition, store or sink falls back to the app's default serdes (JSON unless
``App(default_key_serde=, default_value_serde=)`` says otherwise) unless given one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from streamlet.errors import TopologyError
from streamlet.serde import Int64, Serde
from streamlet.topology.builder import TopologyBuilder
from streamlet.topology.join_nodes import Joiner, JoinKind
from streamlet.topology.windows import AnyWindows, Emit, JoinWindows

if TYPE_CHECKING:
    from streamlet.topology.global_table import GlobalTable
    from streamlet.topology.windowed import SessionWindowedStream, WindowedStream

KeyValueFn = Callable[[Any, Any], Any]
ValueFn = Callable[[Any], Any]


class Stream:
    """An unbounded stream of records (Kafka Streams' KStream)."""

    def __init__(
        self,
        builder: TopologyBuilder,
        node: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        key_changed: bool = False,
    ) -> None:
        self._builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        # set by key-changing operations, cleared by a repartition: grouping a re-keyed
        # stream in place would count equal keys in different tasks
        self.key_changed = key_changed

    def _next(
        self, op: str, fn: Any, *, keeps_key: bool, keeps_value: bool, name: str | None = None
    ) -> Stream:
        node = self._builder.add_processor(op, [self.node], fn, name=name)
        return Stream(
            self._builder,
            node,
            self.key_serde if keeps_key else None,
            self.value_serde if keeps_value else None,
            self.key_changed or not keeps_key,
        )

    # -- stateless ------------------------------------------------------------------------
    def map(self, fn: Callable[[Any, Any], tuple[Any, Any]], *, name: str | None = None) -> Stream:
        """``fn(key, value) -> (new_key, new_value)``."""
        return self._next("map", fn, keeps_key=False, keeps_value=False, name=name)

    def map_values(self, fn: ValueFn, *, name: str | None = None) -> Stream:
        return self._next("map_values", fn, keeps_key=True, keeps_value=False, name=name)

    def flat_map(
        self, fn: Callable[[Any, Any], Iterable[tuple[Any, Any]]], *, name: str | None = None
    ) -> Stream:
        return self._next("flat_map", fn, keeps_key=False, keeps_value=False, name=name)

    def flat_map_values(
        self, fn: Callable[[Any], Iterable[Any]], *, name: str | None = None
    ) -> Stream:
        return self._next("flat_map_values", fn, keeps_key=True, keeps_value=False, name=name)

    def filter(self, predicate: KeyValueFn, *, name: str | None = None) -> Stream:
        return self._next("filter", predicate, keeps_key=True, keeps_value=True, name=name)

    def filter_not(self, predicate: KeyValueFn, *, name: str | None = None) -> Stream:
        return self._next("filter_not", predicate, keeps_key=True, keeps_value=True, name=name)

    def select_key(self, fn: KeyValueFn, *, name: str | None = None) -> Stream:
        return self._next("select_key", fn, keeps_key=False, keeps_value=True, name=name)

    def peek(self, fn: Callable[[Any, Any], None], *, name: str | None = None) -> Stream:
        return self._next("peek", fn, keeps_key=True, keeps_value=True, name=name)

    def split(self, *, name: str | None = None) -> Splitter:
        """Route each record to the first branch whose predicate holds."""
        return Splitter(self, name or self._builder.auto_name("split"))

    def merge(self, *others: Stream, name: str | None = None) -> Stream:
        if any(o._builder is not self._builder for o in others):
            raise TopologyError("merge() takes streams of the same App")
        parents = [self.node, *(o.node for o in others)]
        node = self._builder.add_processor("merge", parents, name=name)
        changed = self.key_changed or any(o.key_changed for o in others)
        return Stream(self._builder, node, self.key_serde, self.value_serde, changed)

    def process(
        self, processor: Any, *, stores: Iterable[str] = (), name: str | None = None
    ) -> Stream:
        """Run a processor: a function ``(record, ctx)``, or a zero-argument factory of
        objects with ``init(ctx)``, ``process(record)`` and ``close()``. What it forwards
        continues downstream."""
        if not callable(processor):
            raise TopologyError(
                f"process() takes a function (record, ctx) or a Processor class or factory, "
                f"not a {type(processor).__name__} instance: pass the class itself "
                f"(e.g. process({type(processor).__name__})), so each task gets its own"
            )
        node = self._builder.add_processor(
            "process", [self.node], processor, name=name, stores=tuple(stores)
        )
        return Stream(self._builder, node, None, None, key_changed=True)

    def repartition(
        self,
        name: str,
        *,
        partitions: int | None = None,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> Stream:
        """Write through ``<app>-<name>-repartition`` so records are partitioned by key."""
        ks, vs = self._serdes(key_serde, value_serde)
        node = self._builder.add_repartition(self.node, name, ks, vs, partitions)
        return Stream(self._builder, node, ks, vs)

    def to(
        self,
        topic: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        partitioner: Callable[[Any, Any, int], int] | None = None,
        name: str | None = None,
    ) -> None:
        self._builder.add_sink(
            self.node, topic, *self._serdes(key_serde, value_serde), partitioner, name=name
        )

    def _serdes(
        self, key_serde: Serde[Any] | None = None, value_serde: Serde[Any] | None = None
    ) -> tuple[Serde[Any], Serde[Any]]:
        """The serdes given, else the stream's own, else the app's defaults (JSON unless set)."""
        b = self._builder
        return (
            key_serde or self.key_serde or b.default_key_serde,
            value_serde or self.value_serde or b.default_value_serde,
        )

    # -- grouping -------------------------------------------------------------------------
    def _require_partitioned(self, what: str) -> None:
        if self.key_changed:
            raise TopologyError(
                f"{what} after an operation that changed the key: records with equal keys may "
                "sit in different partitions; call .repartition(name) first, or use "
                ".group_by(fn, name)"
            )

    def group_by_key(
        self, *, key_serde: Serde[Any] | None = None, value_serde: Serde[Any] | None = None
    ) -> GroupedStream:
        self._require_partitioned("group_by_key()")
        return GroupedStream(self._builder, self.node, *self._serdes(key_serde, value_serde))

    def group_by(
        self,
        fn: KeyValueFn,
        name: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        partitions: int | None = None,
    ) -> GroupedStream:
        """Re-key by ``fn(key, value)`` through the repartition topic ``<app>-<name>-repartition``."""
        self._builder.require_name(name, "group_by")
        keyed = self.select_key(fn)
        moved = keyed.repartition(
            name, partitions=partitions, key_serde=key_serde, value_serde=value_serde
        )
        return GroupedStream(self._builder, moved.node, *moved._serdes())

    def to_table(self, name: str, *, value_serde: Serde[Any] | None = None) -> Table:
        """Materialize the latest value per key in the store ``name``."""
        self._require_partitioned("to_table()")
        b = self._builder
        b.require_name(name, "to_table")
        ks, vs = self._serdes(value_serde=value_serde)
        b.add_store(name, ks, vs)
        node = b.add_processor("table_source", [self.node], name=name, stores=(name,))
        return Table(b, node, ks, vs, name)

    # -- joins ----------------------------------------------------------------------------
    def join(
        self,
        other: Stream | Table | GlobalTable,
        joiner: Joiner,
        *,
        windows: JoinWindows | None = None,
        key_mapper: KeyValueFn | None = None,
        name: str | None = None,
    ) -> Stream:
        """Inner join; the type of ``other`` picks the kind: a ``Stream`` within
        ``windows=sl.JoinWindows(...)`` (``name`` required), a ``Table`` (each record with the
        table's row of its key) or a ``GlobalTable`` (the row of ``key_mapper(key, value)``).
        ``joiner(value, other_value)``."""
        return self._join("inner", other, joiner, windows, key_mapper, name)

    def left_join(
        self,
        other: Stream | Table | GlobalTable,
        joiner: Joiner,
        *,
        windows: JoinWindows | None = None,
        key_mapper: KeyValueFn | None = None,
        name: str | None = None,
    ) -> Stream:
        """As ``join``, but a record without a match is joined with None."""
        return self._join("left", other, joiner, windows, key_mapper, name)

    def outer_join(
        self,
        other: Stream | Table | GlobalTable,
        joiner: Joiner,
        *,
        windows: JoinWindows | None = None,
        key_mapper: KeyValueFn | None = None,
        name: str | None = None,
    ) -> Stream:
        """As ``left_join``, and a record of the other side without a match is joined too
        (streams and tables only)."""
        return self._join("outer", other, joiner, windows, key_mapper, name)

    def _join(
        self,
        kind: str,
        other: Stream | Table | GlobalTable,
        joiner: Joiner,
        windows: JoinWindows | None,
        key_mapper: KeyValueFn | None,
        name: str | None,
    ) -> Stream:
        from streamlet.topology import global_table as gt  # they build on Stream and Table
        from streamlet.topology import stream_joins, table_joins

        if isinstance(other, Stream):
            return stream_joins.join_streams(
                self,
                other,
                joiner,
                JoinKind(kind),
                windows=windows,
                key_mapper=key_mapper,
                name=name,
            )

        if isinstance(other, gt.GlobalTable):
            if kind == "outer":  # as in Kafka Streams: no outer global join
                raise TopologyError(
                    "outer_join() with a global table is not supported; use left_join"
                )
            return gt.join_global(
                self,
                other,
                joiner,
                key_mapper=key_mapper,
                windows=windows,
                name=name,
                left=kind == "left",
            )
        if isinstance(other, Table):
            return table_joins.join_stream_table(
                self, other, joiner, JoinKind(kind), name, windows=windows, key_mapper=key_mapper
            )
        raise TopologyError(
            f"a stream joins a Stream, Table or GlobalTable, not a {type(other).__name__}"
        )


class Splitter:
    """Built by ``Stream.split()``; each ``branch`` adds a predicate, first match wins."""

    def __init__(self, stream: Stream, name: str) -> None:
        self._stream = stream
        self._name = name
        self._branches: list[tuple[KeyValueFn | None, str]] = []

    def branch(self, predicate: KeyValueFn, *, name: str) -> Splitter:
        self._branches.append((predicate, name))
        return self

    def default_branch(self, *, name: str = "default") -> dict[str, Stream]:
        self._branches.append((None, name))
        return self._build()

    def no_default_branch(self) -> dict[str, Stream]:
        return self._build()

    def _build(self) -> dict[str, Stream]:
        s, b = self._stream, self._stream._builder
        routes = tuple((pred, f"{self._name}-{branch}") for pred, branch in self._branches)
        split = b.add_processor("split", [s.node], routes, name=self._name)
        out: dict[str, Stream] = {}
        for (_, branch), (_, child) in zip(self._branches, routes, strict=True):
            node = b.add_processor("merge", [split], name=child)
            out[branch] = Stream(b, node, s.key_serde, s.value_serde, s.key_changed)
        return out


class _Grouped:
    """Records grouped by key; an aggregation materializes them in a named store."""

    def __init__(
        self, builder: TopologyBuilder, node: str, key_serde: Serde[Any], value_serde: Serde[Any]
    ) -> None:
        self._builder = builder
        self._node = node
        self._key_serde = key_serde
        self._value_serde = value_serde

    def _materialize(
        self, op: str, fns: tuple[Any, ...], name: str, value_serde: Serde[Any]
    ) -> Table:
        b = self._builder
        b.require_name(name, "an aggregation")
        b.add_store(name, self._key_serde, value_serde)
        node = b.add_processor(op, [self._node], fns, name=name, stores=(name,))
        return Table(b, node, self._key_serde, value_serde, name)


class GroupedStream(_Grouped):
    """Records grouped by key, ready for an aggregation (Kafka Streams' KGroupedStream)."""

    def windowed_by(
        self, windows: AnyWindows, emit: Emit = Emit.ON_WINDOW_UPDATE
    ) -> WindowedStream | SessionWindowedStream:
        """Aggregate per window: a ``WindowedStream`` or a ``SessionWindowedStream``
        (streamlet.topology.windowed)."""
        from streamlet.topology.windowed import windowed_by  # it builds on Table, below

        return windowed_by(
            self._builder, self._node, self._key_serde, self._value_serde, windows, emit
        )

    def count(self, name: str) -> Table:
        return self._aggregate(name, lambda: 0, lambda _k, _v, agg: agg + 1, Int64())

    def reduce(
        self, fn: Callable[[Any, Any], Any], name: str, *, value_serde: Serde[Any] | None = None
    ) -> Table:
        """``fn(aggregate, value)``; the first value of a key is its first aggregate."""
        return self._aggregate(name, None, fn, value_serde or self._value_serde)

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """``initializer()`` once per key, then ``aggregator(key, value, aggregate)``."""
        return self._aggregate(
            name, initializer, aggregator, value_serde or self._builder.default_value_serde
        )

    def _aggregate(
        self, name: str, initializer: Any, aggregator: Any, value_serde: Serde[Any]
    ) -> Table:
        return self._materialize("aggregate", (initializer, aggregator), name, value_serde)


class Table:
    """A changelog stream: the latest value per key (Kafka Streams' KTable). ``store`` names
    the store that materializes it (None for a derived, unmaterialized table)."""

    def __init__(
        self,
        builder: TopologyBuilder,
        node: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        store: str | None,
    ) -> None:
        self._builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.store = store

    def _derive(self, op: str, fn: Any, value_serde: Serde[Any], name: str | None) -> Table:
        node = self._builder.add_processor(op, [self.node], fn, name=name)
        return Table(self._builder, node, self.key_serde, value_serde, None)

    def filter(self, predicate: KeyValueFn, *, name: str | None = None) -> Table:
        """Rows for which ``predicate(key, value)`` holds; a row that stops matching is deleted."""
        return self._derive("table_filter", predicate, self.value_serde, name)

    def map_values(
        self, fn: ValueFn, *, value_serde: Serde[Any] | None = None, name: str | None = None
    ) -> Table:
        return self._derive(
            "table_map_values", fn, value_serde or self._builder.default_value_serde, name
        )

    def to_stream(self, *, name: str | None = None) -> Stream:
        """Every update of the table as a record ``(key, new_value)``; None for a delete."""
        node = self._builder.add_processor("to_stream", [self.node], name=name)
        return Stream(self._builder, node, self.key_serde, self.value_serde)

    def group_by(
        self,
        fn: Callable[[Any, Any], tuple[Any, Any]] | KeyValueFn,
        name: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> GroupedTable:
        """Re-group rows by ``fn(key, value)`` (a new key) through ``<app>-<name>-repartition``;
        aggregate with an adder and a subtractor so rows that change group stay counted once."""
        b = self._builder
        b.require_name(name, "a table group_by")
        node = b.add_processor("table_group_by", [self.node], fn)
        ks, vs = key_serde or b.default_key_serde, value_serde or self.value_serde
        moved = b.add_repartition(node, name, ks, vs, None)
        return GroupedTable(b, moved, ks, vs)

    # -- joins ----------------------------------------------------------------------------
    def join(
        self,
        other: Table,
        joiner: Joiner,
        *,
        foreign_key: Callable[[Any], Any] | None = None,
        name: str | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """Rows with a key in both tables, as ``joiner(left_value, right_value)``, kept in the
        store ``name``; a row that stops matching is deleted."""
        return self._join("inner", other, joiner, foreign_key, name, value_serde)

    def left_join(
        self,
        other: Table,
        joiner: Joiner,
        *,
        foreign_key: Callable[[Any], Any] | None = None,
        name: str | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """Every row of this table, joined with the other's row of its key or None."""
        return self._join("left", other, joiner, foreign_key, name, value_serde)

    def outer_join(
        self,
        other: Table,
        joiner: Joiner,
        *,
        foreign_key: Callable[[Any], Any] | None = None,
        name: str | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """Every key of either table; the side without a row is None."""
        return self._join("outer", other, joiner, foreign_key, name, value_serde)

    def _join(
        self,
        kind: str,
        other: Table,
        joiner: Joiner,
        foreign_key: Callable[[Any], Any] | None,
        name: str | None,
        value_serde: Serde[Any] | None,
    ) -> Table:
        from streamlet.topology import fk_joins, table_joins  # they build on Stream and Table

        if not isinstance(other, Table):
            raise TopologyError(f"a table joins another Table, not a {type(other).__name__}")
        if foreign_key is not None:
            return fk_joins.join_foreign_key(
                self, other, joiner, JoinKind(kind), foreign_key, name, value_serde
            )
        return table_joins.join_tables(self, other, joiner, JoinKind(kind), name, value_serde)


class GroupedTable(_Grouped):
    """Rows of a table regrouped by a new key (Kafka Streams' KGroupedTable)."""

    def aggregate(
        self,
        initializer: Callable[[], Any],
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """``adder(key, value, agg)`` for a row entering the group, ``subtractor`` for one
        leaving it; ``initializer()`` once per key."""
        return self._materialize(
            "table_aggregate",
            (initializer, adder, subtractor),
            name,
            value_serde or self._builder.default_value_serde,
        )

    def count(self, name: str) -> Table:
        return self.aggregate(
            lambda: 0,
            lambda _k, _v, agg: agg + 1,
            lambda _k, _v, agg: agg - 1,
            name,
            value_serde=Int64(),
        )

    def reduce(
        self,
        adder: Callable[[Any, Any], Any],
        subtractor: Callable[[Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """``adder(agg, value)`` / ``subtractor(agg, value)``; the first value seeds a key."""
        return self.aggregate(
            lambda: None,
            lambda _k, v, agg: v if agg is None else adder(agg, v),
            lambda _k, v, agg: subtractor(agg, v),
            name,
            value_serde=value_serde or self._value_serde,
        )
