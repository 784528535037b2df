"""Table operations. A table node forwards ``Change(old, new)`` values to its children;
``to_stream`` turns them back into plain records carrying the new value (None: a delete).

A table ``group_by`` sends each change through a repartition topic as up to two records:
the old value marked for subtraction, the new one for addition (header
``streamlet.change``), so an aggregate on the other side stays correct when a row moves
from one group to another (Kafka Streams' adder/subtractor semantics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from streamlet.record import Record, new_record
from streamlet.runtime.dropped import DroppedRecords
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.state.cache import MISSING
from streamlet.topology.nodes import ProcessorNode

CHANGE_HEADER = "streamlet.change"
_ADD: tuple[str, bytes | None] = (CHANGE_HEADER, b"+")
_SUB: tuple[str, bytes | None] = (CHANGE_HEADER, b"-")


class Change(NamedTuple):
    """An update of one table row: ``old`` and ``new`` (None: absent)."""

    old: Any
    new: Any


def _with(r: Record, value: Any) -> Record:
    key, _, timestamp, headers, topic, partition, offset = r
    return new_record(Record, (key, value, timestamp, headers, topic, partition, offset))


_Read = Callable[[Any], Any]
_Write = Callable[[Record, Any, Any], None]


def _rows(n: ProcessorNode, out: Emit, task: TaskServices, forwards: bool) -> tuple[_Read, _Write]:
    """``(read(key), write(record, old, new))`` of a node's table rows. A write goes to the
    store at once (joins and processors read the store: they must see the newest value), and
    forwards ``Change(old, new)`` at once too without a record cache; with one, the newest
    value of each key waits there, forwarded when the cache flushes (commit) or evicts it,
    and reads of this node come from it without deserializing. Keys that cannot be hashed
    bypass the cache."""
    store = task.store(n.stores[0])

    def forward(key: Any, old: Any, new: Any, record: Record) -> None:
        if old is None and new is None:  # created and deleted between two flushes
            return
        out(_with(record, Change(old, new)))

    # a node nothing reads from (a table only joined through its store) has nothing to
    # coalesce: a cache would only cost it a put per record and evictions
    cache = task.record_cache(n.name, forward) if forwards else None
    if cache is None:

        def write_through(r: Record, old: Any, new: Any) -> None:
            store.put(r.key, new)  # None deletes
            out(_with(r, Change(old, new)))

        return store.get, write_through

    def read(key: Any) -> Any:
        try:
            value = cache.get(key)
        except TypeError:  # unhashable: never cached
            return store.get(key)
        return store.get(key) if value is MISSING else value

    def write(r: Record, old: Any, new: Any) -> None:
        key = r.key
        store.put(key, new)
        try:
            hash(key)
        except TypeError:
            forward(key, old, new, r)
            return
        cache.put(key, old, new, r)

    return read, write


def _aggregate(n: ProcessorNode, out: Emit, _k: dict[str, Emit], task: TaskServices) -> Emit:
    """Stream aggregation: ``aggregator(key, value, agg)`` or, for reduce, ``fn(agg, value)``."""
    read, write = _rows(n, out, task, bool(_k))
    initializer, aggregator = n.fn

    def emit(r: Record) -> None:
        key = r.key
        if key is None:  # Kafka Streams drops null keys from aggregations too
            return
        old = read(key)
        try:
            if initializer is None:
                new = r.value if old is None else aggregator(old, r.value)
            else:
                new = aggregator(key, r.value, initializer() if old is None else old)
        except Exception as exc:
            raise user_error(exc, n.name, aggregator) from exc
        write(r, old, new)

    return emit


def _table_source(n: ProcessorNode, out: Emit, _k: dict[str, Emit], task: TaskServices) -> Emit:
    """Materialize a stream as a table: the latest value per key; a None value deletes. A
    record with a None key can be no row: dropped and counted, as in Kafka Streams."""
    read, write = _rows(n, out, task, bool(_k))
    dropped = DroppedRecords(task, n.name)

    def emit(r: Record) -> None:
        if r.key is None:
            dropped.drop(r, "table_null_key")
            return
        old = read(r.key)
        if r.value is None and old is None:
            return
        write(r, old, r.value)

    return emit


def _to_stream(_n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    def emit(r: Record) -> None:
        key, change, timestamp, headers, topic, partition, offset = r
        out(new_record(Record, (key, change.new, timestamp, headers, topic, partition, offset)))

    return emit


def _table_filter(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def keep(key: Any, value: Any) -> Any:
        if value is None:
            return None
        try:
            return value if fn(key, value) else None
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc

    def emit(r: Record) -> None:
        old, new = keep(r.key, r.value.old), keep(r.key, r.value.new)
        if old is not None or new is not None:
            out(_with(r, Change(old, new)))

    return emit


def _table_map_values(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def apply(value: Any) -> Any:
        if value is None:
            return None
        try:
            return fn(value)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc

    def emit(r: Record) -> None:
        out(_with(r, Change(apply(r.value.old), apply(r.value.new))))

    return emit


def _table_group_by(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    """Re-key each change: subtract the old row from its group, add the new one to its own."""
    fn = n.fn

    def regroup(r: Record, value: Any, mark: tuple[str, bytes | None]) -> None:
        try:
            key = fn(r.key, value)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        out(Record(key, value, r.timestamp, (*r.headers, mark), r.topic, r.partition, r.offset))

    def emit(r: Record) -> None:
        change: Change = r.value
        if change.old is not None:
            regroup(r, change.old, _SUB)
        if change.new is not None:
            regroup(r, change.new, _ADD)

    return emit


def _table_aggregate(n: ProcessorNode, out: Emit, _k: dict[str, Emit], task: TaskServices) -> Emit:
    """``adder(key, value, agg)`` / ``subtractor(key, value, agg)`` by the change header."""
    read, write = _rows(n, out, task, bool(_k))
    initializer, adder, subtractor = n.fn

    def emit(r: Record) -> None:
        key = r.key
        if key is None or r.value is None:
            return
        subtract = False
        headers = []
        for name, value in r.headers:
            if name == CHANGE_HEADER:
                subtract = value == b"-"
            else:
                headers.append((name, value))
        old = read(key)
        fn: Callable[..., Any] = subtractor if subtract else adder
        try:
            new = fn(key, r.value, initializer() if old is None else old)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        # the change header is this node's input, not its output
        write(
            Record(key, None, r.timestamp, tuple(headers), r.topic, r.partition, r.offset), old, new
        )

    return emit


TABLE_OPS: dict[str, Callable[[ProcessorNode, Emit, dict[str, Emit], TaskServices], Emit]] = {
    "aggregate": _aggregate,
    "table_source": _table_source,
    "to_stream": _to_stream,
    "table_filter": _table_filter,
    "table_map_values": _table_map_values,
    "table_group_by": _table_group_by,
    "table_aggregate": _table_aggregate,
}
