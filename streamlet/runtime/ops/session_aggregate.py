"""How a session aggregation runs (``SessionAggregateNode``).

Per record at timestamp ``ts``, with stream time ``st``: every live session of the key with
``end >= ts - gap`` and ``start <= ts + gap`` merges with the record into one session
``[min start, max end]`` (``merger`` folds their aggregates, then ``aggregator`` adds the
record). The record is late, and dropped, iff that merged ``end + gap + grace < st``.
``ON_WINDOW_UPDATE`` forwards a tombstone for each merged-away session and the new session's
``Change``; ``ON_WINDOW_CLOSE`` forwards each session once, when ``end + gap + grace < st``.

A closed session never merges again (a record next to it starts a new session); sessions are
deleted in batches once ``end < st - retention`` (retention >= gap + grace). As for time windows, the observed stream time
is stored with the sessions, so closed sessions are forwarded exactly once across restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlet.record import Record
from streamlet.runtime.ops.late import LateRecords
from streamlet.runtime.ops_table import Change
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.state.session import SessionStore
from streamlet.topology.window_nodes import SessionAggregateNode
from streamlet.topology.windows import Emit as EmitMode
from streamlet.topology.windows import Windowed

STREAM_TIME = "stream-time"


def compile_session_aggregate(
    n: SessionAggregateNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    store: SessionStore = task.store(n.store)
    gap, grace, retention = n.windows.inactivity_gap_ms, n.windows.grace_ms, n.retention_ms
    initializer, aggregator, merger = n.initializer, n.aggregator, n.merger
    on_close = n.emit is EmitMode.ON_WINDOW_CLOSE
    late = LateRecords(task, n.name)
    stored = store.meta(STREAM_TIME)
    observed = -1 if stored is None else stored
    # sessions ending before these were already forwarded (on close) / deleted
    state = {"unemitted": max(0, observed - gap - grace), "expired": 0}

    def close_sessions(st: int, r: Record) -> None:
        end_to = st - gap - grace  # closed iff end < this
        if end_to <= state["unemitted"]:
            return
        for s in store.ended(state["unemitted"], end_to):
            win = Windowed(store.key_of(s.key_bytes), s.start, s.end)
            out(Record(win, Change(None, s.value), s.timestamp, (), r.topic, r.partition, r.offset))
        state["unemitted"] = end_to

    def expire(st: int) -> None:
        expire_to = st - retention
        if expire_to - state["expired"] < max(1, gap):  # at most one scan per gap
            return
        for s in list(store.ended(state["expired"], expire_to)):
            store.remove(s.key_bytes, s.start, s.end)
        state["expired"] = expire_to

    def emit(r: Record) -> None:
        nonlocal observed
        st = task.stream_time
        if st > observed:
            observed = st
            store.set_meta(STREAM_TIME, st)
        else:
            st = observed
        if r.key is not None:
            aggregate(r, st)
        if on_close:
            close_sessions(st, r)
        expire(st)

    def aggregate(r: Record, st: int) -> None:
        key, ts = r.key, r.timestamp
        key_bytes = store.key_bytes(key)
        live_from = max(ts - gap, st - gap - grace)  # closed sessions never merge or reopen
        merged = store.find(key_bytes, live_from, ts + gap)
        start = min([ts, *(s.start for s in merged)])
        end = max([ts, *(s.end for s in merged)])
        if end + gap + grace < st:
            late.drop(key_bytes, start, end, r, st)
            return
        fn: Callable[..., Any] = initializer
        try:
            agg = initializer()
            fn = merger
            for s in merged:
                agg = merger(key, agg, s.value)
            fn = aggregator
            agg = aggregator(key, r.value, agg)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        old = None
        new_ts = ts
        for s in merged:
            new_ts = max(new_ts, s.timestamp)
            if s.start == start and s.end == end:
                old = s.value
                continue
            store.remove(key_bytes, s.start, s.end)
            if not on_close:
                gone = Windowed(key, s.start, s.end)
                out(
                    Record(
                        gone, Change(s.value, None), ts, r.headers, r.topic, r.partition, r.offset
                    )
                )
        store.put(key_bytes, start, end, new_ts, agg)
        if not on_close:
            win = Windowed(key, start, end)
            out(Record(win, Change(old, agg), new_ts, r.headers, r.topic, r.partition, r.offset))

    return emit
