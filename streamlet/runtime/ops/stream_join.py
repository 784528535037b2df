"""How a windowed stream-stream join runs (``StreamJoinNode``: its left and right sides).

With time difference ``d`` and grace ``g``, records of the two sides with the same key join
when their timestamps are at most ``d`` apart. The join's stream time ``st`` is the largest
timestamp either side has seen (kept in the left buffer, so it survives restarts), and a
record at ``t`` is *open* while ``t + d + g >= st``:

- a record arriving closed is late: dropped, counted and logged, never joined;
- an open record joins every open record of the other side within ``[t - d, t + d]``, in
  timestamp order: ``joiner(left_value, right_value)`` at ``max`` of the two timestamps;
- in a left (outer) join, a left (any) record that found no match waits in the outer store
  and comes out as ``joiner(value, None)`` (``joiner(None, value)``), at its own timestamp,
  once stream time passes its close, ``t + d + g < st`` — unless a match arrives first, which
  deletes it. A pending record is emitted before the record that closed it is joined.

Because a pair joins only while both records are open, a record that came out unmatched can
never match later: no spurious left/outer results. (Kafka Streams still joins a record more
than the grace behind stream time with records its store retains, and emits an unmatched one
at once; here such a record is late.) Records with a None key or value (or a negative
timestamp) never join: dropped, counted and logged. Stores, stream time and the sequence number that keeps duplicates apart
are written through the task's buffers, so outputs, matches and deletes of pending records
commit in one transaction with the changelogs.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from streamlet.errors import ProcessingError
from streamlet.record import Record
from streamlet.runtime.ops.late import LateRecords
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.state.join import JoinBufferStore, OuterJoinStore, Pending
from streamlet.topology.join_nodes import LEFT, StreamJoinNode

log = logging.getLogger("streamlet.joins")

STREAM_TIME, SEQ = "stream-time", "seq"
_UNKNOWN = -1  # smallest pending timestamp not known: scan
_NONE_PENDING = 2**63 - 1


@dataclass
class JoinState:
    """What the two sides of one join share within a task."""

    observed: int  # the join's stream time
    seq: int  # last sequence number given to a buffered record
    expired: int = 0  # buffered records before this timestamp are deleted
    pending_min: int = _UNKNOWN  # a lower bound of the pending timestamps
    dropped: Counter[str] = field(default_factory=Counter)  # by reason


_STATES: weakref.WeakKeyDictionary[Any, dict[str, JoinState]] = weakref.WeakKeyDictionary()


def join_state(task: Any, join: str) -> JoinState | None:
    """The shared state of ``join`` in ``task`` (for tests and diagnostics)."""
    return _STATES.get(task, {}).get(join)


def _state(task: Any, n: StreamJoinNode, left: JoinBufferStore) -> JoinState:
    states = _STATES.setdefault(task, {})
    if n.join not in states:
        observed, seq = left.meta(STREAM_TIME), left.meta(SEQ)
        states[n.join] = JoinState(-1 if observed is None else observed, seq or 0)
    return states[n.join]


def _unjoinable(r: Record) -> str | None:
    """Why a record can never join, or None."""
    if r.key is None:
        return "null_key"
    if r.value is None:
        return "null_value"
    if r.timestamp < 0:  # no timestamp (an old message format): no window contains it
        return "negative_timestamp"
    return None


def compile_stream_join(
    n: StreamJoinNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    left: JoinBufferStore = task.store(n.left_store)
    right: JoinBufferStore = task.store(n.right_store)
    outer: OuterJoinStore | None = task.store(n.outer_store) if n.outer_store else None
    side, joiner = n.side, n.joiner
    this, other = (left, right) if side == LEFT else (right, left)
    keeps_this, keeps_other = n.kind.keeps_unmatched(side), n.kind.keeps_unmatched(1 - side)
    d, g = n.windows.time_difference_ms, n.windows.grace_ms
    expire_step = max(1, d)
    state = _state(task, n, left)
    late = LateRecords(task, n.name)

    def call(lv: Any, rv: Any) -> Any:
        try:
            return joiner(lv, rv)
        except Exception as exc:
            raise user_error(exc, n.name, joiner) from exc

    def advance(ts: int) -> int:
        if ts > state.observed:
            state.observed = ts
            left.set_meta(STREAM_TIME, ts)
        return state.observed

    def close_pending(st: int, r: Record) -> None:
        assert outer is not None
        limit = st - d - g  # a record before this is closed
        if state.pending_min != _UNKNOWN and state.pending_min >= limit:
            return
        state.pending_min = _UNKNOWN  # until the scan below completes
        for p in outer.before(limit):
            outer.remove(p)  # emitted at most once, even when the joiner raises
            key = outer.key_of(p.key_bytes)
            value = (left if p.side == LEFT else right).value_of(p.data)
            try:
                joined = joiner(value, None) if p.side == LEFT else joiner(None, value)
            except Exception as exc:
                error = user_error(exc, n.name, joiner)
                where = "left" if p.side == LEFT else "right"
                raise ProcessingError(
                    f"{error.message} (emitting the unmatched {where} record of key {key!r} "
                    f"at timestamp {p.timestamp}, closed by this record)",
                    processor=n.name,
                    function=error.function,
                    line=error.line,
                ) from exc
            out(Record(key, joined, p.timestamp, (), r.topic, r.partition, r.offset))
        first = outer.first_timestamp()
        state.pending_min = _NONE_PENDING if first is None else first

    def expire(st: int) -> None:
        expire_to = st - d - g  # buffered records before this are closed
        if expire_to - state.expired < expire_step:  # at most one scan per time difference
            return
        left.expire(state.expired, expire_to)
        right.expire(state.expired, expire_to)
        state.expired = expire_to

    def drop(reason: str, r: Record) -> None:
        state.dropped[reason] += 1
        task.dropped[reason] = task.dropped.get(reason, 0) + 1  # the metric's count
        if state.dropped[reason] == 1:  # then counted, not logged
            log.warning(
                "%s: dropped a record with a %s (topic %s, partition %s, offset %s): a "
                "stream-stream join never joins it; further ones are counted, not logged",
                n.name,
                reason.replace("_", " "),
                r.topic,
                r.partition,
                r.offset,
            )

    def emit(r: Record) -> None:
        ts = r.timestamp
        st = advance(ts)
        if outer is not None:
            close_pending(st, r)
        expire(st)
        reason = _unjoinable(r)
        if reason is not None:
            drop(reason, r)
            return
        kb = this.key_bytes(r.key)
        if ts + d + g < st:
            late.drop(kb, ts - d, ts + d, r, st)
            return
        matches = other.between(kb, max(ts - d, st - d - g), ts + d)  # the open ones
        if side == LEFT:
            joined = [call(r.value, m.value) for m in matches]
        else:
            joined = [call(m.value, r.value) for m in matches]
        # the joiner ran for every match before this record's writes: when it raises, the
        # record leaves no half-joined trace for the error policy to keep
        data = this.value_bytes(r.value)
        state.seq += 1
        left.set_meta(SEQ, state.seq)
        this.add(kb, ts, state.seq, data)
        for m, value in zip(matches, joined, strict=True):
            if keeps_other:
                assert outer is not None
                outer.discard(m.timestamp, 1 - side, kb, m.seq)
            out(
                Record(
                    r.key, value, max(ts, m.timestamp), r.headers, r.topic, r.partition, r.offset
                )
            )
        if not matches and keeps_this:
            assert outer is not None
            outer.put(Pending(ts, side, kb, state.seq, data))
            if state.pending_min != _UNKNOWN:
                state.pending_min = min(state.pending_min, ts)

    return emit
