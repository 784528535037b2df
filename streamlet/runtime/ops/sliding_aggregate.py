"""How a sliding-window aggregation runs (``SlidingAggregateNode``, KIP-450 windows).

With time difference ``d``, a key's windows are ``[start, end]`` (both inclusive,
``end = start + d``): the *left* window of each record at ``t``, ``[t - d, t]`` (``[0, d]``
while ``t < d``), and the *right* window ``[t + 1, t + 1 + d]`` of each record that has a
later record within it. A window's aggregate is the fold, in processing order, of the records
its bounds contain. A window is closed once ``end + grace < stream time``; a record whose
left window is closed is late (dropped, counted, logged), and closed windows never change.

The records of open windows are kept in the store, so a window created or extended by an
out-of-order record is always the exact fold of its records. Each record re-folds the windows
it touches, so the cost per record grows with the records per window. Records with a None
value are dropped, as in Kafka Streams. Emission (update or close) and exactly-once close
follow the session aggregation: the observed stream time is stored with the windows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlet.errors import SerializationError
from streamlet.record import Record
from streamlet.runtime.ops.late import LateRecords
from streamlet.runtime.ops_table import Change
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.state.sliding import SlidingStore
from streamlet.topology.window_nodes import SlidingAggregateNode
from streamlet.topology.windows import Emit as EmitMode
from streamlet.topology.windows import Windowed

STREAM_TIME = "stream-time"
SEQ = "seq"


def compile_sliding_aggregate(
    n: SlidingAggregateNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    store: SlidingStore = task.store(n.store)
    d, grace, retention = n.windows.time_difference_ms, n.windows.grace_ms, n.retention_ms
    initializer, aggregator, input_serde = n.initializer, n.aggregator, n.input_serde
    on_close = n.emit is EmitMode.ON_WINDOW_CLOSE
    late = LateRecords(task, n.name)
    stored = store.meta(STREAM_TIME)
    observed = -1 if stored is None else stored
    state = {
        "unemitted": max(0, observed - grace),  # windows ending before this were forwarded
        "expired": 0,
        "seq": store.meta(SEQ) or 0,
    }

    def close_windows(st: int, r: Record) -> None:
        end_to = st - grace  # closed iff end < this
        if end_to <= state["unemitted"]:
            return
        for s in store.ended(state["unemitted"], end_to):
            win = Windowed(store.key_of(s.key_bytes), s.start, s.end)
            out(Record(win, Change(None, s.value), s.timestamp, (), r.topic, r.partition, r.offset))
        state["unemitted"] = end_to

    def expire(st: int) -> None:
        expire_to = st - retention  # windows ending, and records, before this
        if expire_to - state["expired"] < d:  # at most one scan per time difference
            return
        for s in list(store.ended(state["expired"], expire_to)):
            store.remove(s.key_bytes, s.start, s.end)
        store.expire_records(state["expired"], expire_to)
        state["expired"] = expire_to

    def emit(r: Record) -> None:
        nonlocal observed
        st = task.stream_time
        if st > observed:
            observed = st
            store.set_meta(STREAM_TIME, st)
        else:
            st = observed
        if r.key is not None and r.value is not None:
            aggregate(r, st)
        if on_close:
            close_windows(st, r)
        expire(st)

    def fold(key: Any, values: list[bytes]) -> Any:
        fn: Callable[..., Any] = initializer
        try:
            agg = initializer()
            fn = aggregator
            for data in values:
                agg = aggregator(key, input_serde.deserialize(store.name, data), agg)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        return agg

    def aggregate(r: Record, st: int) -> None:
        key, t = r.key, r.timestamp
        kb = store.key_bytes(key)
        left_start = max(0, t - d)
        if left_start + d + grace < st:
            late.drop(kb, left_start, left_start + d, r, st)
            return
        data = input_serde.serialize(store.name, r.value)
        if data is None:
            raise SerializationError(f"{n.name}: the value serde wrote None for {r.value!r}")
        state["seq"] += 1
        store.set_meta(SEQ, state["seq"])
        store.add_record(kb, t, state["seq"], data)
        records = store.records(kb, t - 1 - d, t + 1 + d)  # all a touched window can hold
        existing = {(s.start, s.end): s.value for s in store.find(kb, t, t)}  # hold t
        touched = set(existing)
        touched.add((left_start, left_start + d))
        # right windows of earlier records now holding t
        touched.update((ts + 1, ts + 1 + d) for ts, _, _ in records if t - 1 - d <= ts < t)
        right = (t + 1, t + 1 + d)
        if any(t < ts <= t + 1 + d for ts, _, _ in records) and not any(
            (s.start, s.end) == right for s in store.find(kb, right[1], right[0])
        ):
            touched.add(right)  # the record's own right window, new
        for start, end in sorted(touched):
            if end + grace < st:
                continue  # closed: never changes again
            inside = sorted((seq, ts, v) for ts, seq, v in records if start <= ts <= end)
            agg = fold(key, [v for _, _, v in inside])
            max_ts = max(ts for _, ts, _ in inside)
            store.put(kb, start, end, max_ts, agg)
            if not on_close:
                win = Windowed(key, start, end)
                change = Change(existing.get((start, end)), agg)
                out(Record(win, change, max_ts, r.headers, r.topic, r.partition, r.offset))

    return emit
