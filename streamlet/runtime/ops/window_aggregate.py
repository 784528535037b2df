"""How a tumbling or hopping aggregation runs (``WindowAggregateNode``).

Per record, with stream time ``st`` (the task's, or the store's observed stream time after a
restart, whichever is larger): the record joins each window ``[start, start + size)``
containing its timestamp whose ``end + grace > st``; for the others it is late (dropped,
counted, logged). ``ON_WINDOW_UPDATE`` forwards every joined window's ``Change(old, new)``;
``ON_WINDOW_CLOSE`` forwards each window once, when ``st >= end + grace``.

Exactly-once emission on close rests on one stored number: the observed stream time, written
to the store (so to its changelog, in the same transaction as the forwarded records). Every
window whose close time is at most that number has been forwarded; after a crash the store
and the output agree, and the scan resumes after it. Windows are deleted once their start is
more than ``retention`` behind stream time.
"""

from __future__ import annotations

from streamlet.record import Record
from streamlet.runtime.ops.late import LateRecords
from streamlet.runtime.ops_table import Change
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.state.window import WindowStore
from streamlet.topology.window_nodes import WindowAggregateNode
from streamlet.topology.windows import Emit as EmitMode
from streamlet.topology.windows import Windowed

STREAM_TIME = "stream-time"


def compile_window_aggregate(
    n: WindowAggregateNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    w = n.windows
    store: WindowStore = task.store(n.store)
    size, advance, grace, retention = w.size_ms, w.advance_ms, w.grace_ms, n.retention_ms
    starts_for = w.starts_for
    initializer, aggregator = n.initializer, n.aggregator
    on_close = n.emit is EmitMode.ON_WINDOW_CLOSE
    late = LateRecords(task, n.name)
    stored = store.meta(STREAM_TIME)
    observed = -1 if stored is None else stored

    def first_open_start(st: int) -> int:
        """The smallest window start not closed at stream time ``st``."""
        closed_up_to = st - size - grace  # a window is closed iff start <= this
        return 0 if closed_up_to < 0 else (closed_up_to // advance + 1) * advance

    # Windows starting before ``unemitted`` were already forwarded (on close); before
    # ``expired``, deleted. Both are multiples of the advance, so the scans are due exactly
    # when stream time reaches ``close_at`` / ``expire_at``: one comparison per record.
    unemitted = first_open_start(observed)
    close_at = unemitted + size + grace
    expired = 0
    expire_at = retention + advance
    tumbling = advance == size
    get, put, key_bytes_of = store.get, store.put, store.key_bytes

    def close_windows(st: int, r: Record) -> None:
        nonlocal unemitted, close_at
        start_to = first_open_start(st)
        for key, start, ts, value in store.windows(unemitted, start_to):
            win = Windowed(key, start, start + size)
            out(Record(win, Change(None, value), ts, (), r.topic, r.partition, r.offset))
        unemitted = start_to
        close_at = start_to + size + grace

    def expire(st: int) -> None:
        nonlocal expired, expire_at
        expire_to = st - retention  # starts before this are expired
        store.expire(expired, expire_to)
        expired = expire_to
        expire_at = expire_to + retention + advance  # at most one scan per advance

    def emit(r: Record) -> None:
        nonlocal observed
        st = task.stream_time
        if st > observed:
            observed = st
            store.set_meta(STREAM_TIME, st)
        else:
            st = observed
        if r.key is not None:  # Kafka Streams drops null keys from aggregations too
            aggregate(r, st)
        if on_close and st >= close_at:
            close_windows(st, r)
        if st >= expire_at:
            expire(st)

    def aggregate(r: Record, st: int) -> None:
        key_bytes = key_bytes_of(r.key)
        ts = r.timestamp
        # the one tumbling window of a time >= 0 without building a range (a negative time,
        # which only a record without a timestamp can carry, is in no window)
        for start in (ts - ts % size,) if tumbling and ts >= 0 else starts_for(ts):
            end = start + size
            if end + grace <= st:
                late.drop(key_bytes, start, end, r, st)
                continue
            found = get(key_bytes, start)
            old, old_ts = (None, ts) if found is None else (found[1], found[0])
            try:
                new = aggregator(r.key, r.value, initializer() if old is None else old)
            except Exception as exc:
                raise user_error(exc, n.name, aggregator) from exc
            new_ts = max(ts, old_ts)
            put(key_bytes, start, new_ts, new)
            if not on_close:
                win = Windowed(r.key, start, end)
                out(
                    Record(win, Change(old, new), new_ts, r.headers, r.topic, r.partition, r.offset)
                )

    return emit
