"""Stream-stream joins through the TopologyTestDriver: a brute-force model of the pinned
semantics (runtime/ops/stream_join.py) under random interleavings, out-of-order and late
records, plus the edges one by one (timestamps, null keys and values, a raising joiner,
store growth, describe)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.runtime.ops.stream_join import join_state
from streamlet.runtime.task import Task, TaskStore
from streamlet.state import BufferedStore, MemoryStore
from streamlet.testing import TopologyTestDriver

S, J = serde.String(), serde.Json()
METHODS = ("join", "left_join", "outer_join")
Event = tuple[int, str | None, str | None, int]  # (side 0 left / 1 right, key, value, timestamp)


def pair(left: Any, right: Any) -> list[Any]:
    return [left, right]


def model(events: list[Event], d: int, g: int, method: str) -> list[tuple[str, Any, int]]:
    """Every buffered record checked naively for every input: ``(key, [l, r], timestamp)``."""
    keeps = {"join": (), "left_join": (0,), "outer_join": (0, 1)}[method]
    buffered: list[tuple[int, str, str, int, int]] = []  # side, key, value, ts, seq
    pending: dict[int, tuple[int, str, str, int]] = {}  # seq -> side, key, value, ts
    out: list[tuple[str, Any, int]] = []
    stream_time = -1
    for seq, (side, key, value, ts) in enumerate(events):
        stream_time = max(stream_time, ts)
        closed = sorted(
            (t, s, k, q) for q, (s, k, _, t) in pending.items() if t + d + g < stream_time
        )
        for t, s, k, q in closed:
            v = pending.pop(q)[2]
            out.append((k, [v, None] if s == 0 else [None, v], t))
        if key is None or value is None or ts + d + g < stream_time:
            continue  # never joins: null, or late
        matches = sorted(
            (t, q, v)
            for s, k, v, t, q in buffered
            if s != side and k == key and abs(t - ts) <= d and t + d + g >= stream_time
        )
        for t, q, v in matches:
            pending.pop(q, None)
            out.append((key, [value, v] if side == 0 else [v, value], max(ts, t)))
        buffered.append((side, key, value, ts, seq))
        if not matches and side in keeps:
            pending[seq] = (side, key, value, ts)
    return out


def run(events: list[Event], d: int, g: int, method: str) -> tuple[list[tuple[str, Any, int]], Any]:
    app = sl.App("sj")
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    joined = getattr(left, method)(right, pair, windows=sl.JoinWindows(d, grace_ms=g), name="j")
    joined.to("out", value_serde=J)
    driver = TopologyTestDriver(app)
    topics = [driver.input_topic("left", S, S), driver.input_topic("right", S, S)]
    for side, key, value, ts in events:
        topics[side].pipe(key, value, ts)
    got = [(r.key, r.value, r.timestamp) for r in driver.output_topic("out", S, J).read_records()]
    return got, driver


events_st = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from(["a", "b", "c", None]),
        st.sampled_from(["x", "y", "z", None]),
        st.integers(0, 60),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    events=events_st,
    d=st.integers(0, 12),
    g=st.integers(0, 10),
    method=st.sampled_from(METHODS),
)
def test_join_matches_the_model(events: list[Event], d: int, g: int, method: str) -> None:
    got, driver = run(events, d, g, method)
    driver.close()
    assert got == model(events, d, g, method)


@settings(max_examples=60, deadline=None)
@given(events=events_st, d=st.integers(0, 12), g=st.integers(0, 10))
def test_inner_results_are_the_outer_joins_matched_ones(
    events: list[Event], d: int, g: int
) -> None:
    inner, d1 = run(events, d, g, "join")
    outer, d2 = run(events, d, g, "outer_join")
    d1.close()
    d2.close()
    assert inner == [r for r in outer if None not in r[1]]


def test_out_of_order_within_grace_joins_and_cancels_the_pending_result() -> None:
    events: list[Event] = [(0, "k", "A", 10), (1, "k", "z", 24), (1, "k", "a", 12)]
    got, driver = run(events, 5, 10, "left_join")
    # at stream time 24, A (open until 25) and a (12 behind, within 5 + 10) still join
    assert got == [("k", ["A", "a"], 12)]
    driver.input_topic("left", S, S).pipe("other", "B", 100)  # closes every window
    assert driver.output_topic("out", S, J).read_values() == []  # A matched: no [A, null]
    driver.close()


def test_late_record_is_dropped_counted_and_never_joins(caplog: pytest.LogCaptureFixture) -> None:
    events: list[Event] = [(0, "k", "A", 10), (1, "k", "far", 40), (1, "k", "a", 12)]
    got, driver = run(events, 5, 10, "outer_join")
    # stream time 40 > 12 + 5 + 10: "a" is late, and A (closed at 25) came out unmatched
    assert got == [("k", ["A", None], 10)]
    assert driver._tasks[0].late_dropped == 1
    driver.close()
    assert any("dropped a late record" in r.getMessage() for r in caplog.records)


def test_null_key_value_or_timestamp_is_dropped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[Event] = [
        (0, None, "A", 1),
        (1, "k", None, 2),
        (0, "k", None, 3),
        (0, "k", "B", 4),
    ]
    got, driver = run(events, 5, 0, "outer_join")
    driver.input_topic("right", S, S).pipe("k", "b", -1)  # no timestamp: cannot be windowed
    state = join_state(driver._tasks[0], "j")
    assert state is not None
    assert state.dropped == {"null_key": 1, "null_value": 2, "negative_timestamp": 1}
    # the task's counts are what streamlet_dropped_records_total{reason} exports
    assert driver._tasks[0].dropped == {"null_key": 1, "null_value": 2, "negative_timestamp": 1}
    assert got == [] and driver.output_topic("out").is_empty()  # B waits for its window
    driver.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "streamlet.joins"]
    assert len(logged) == 3 and "topic left, partition 0, offset 0" in logged[0]


def test_joiner_error_is_located_and_leaves_no_partial_result() -> None:
    def picky(left: Any, right: Any) -> str:
        if right == "bad":
            raise ValueError("cannot join bad")
        return f"{left}+{right}"

    app = sl.App("sj")
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    left.join(right, picky, windows=sl.JoinWindows(10), name="j").to("out", value_serde=S)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("right", S, S).pipe("k", "ok", 1)
        driver.input_topic("right", S, S).pipe("k", "bad", 2)
        with pytest.raises(sl.ProcessingError, match="cannot join bad") as caught:
            driver.input_topic("left", S, S).pipe("k", "L", 3)
        assert (caught.value.topic, caught.value.partition, caught.value.offset) == ("left", 0, 0)
        assert "picky" in str(caught.value)
        assert driver.output_topic("out", S, S).read_values() == []


def test_joiner_error_follows_the_dead_letter_policy() -> None:
    errors = sl.ErrorPolicies(processing=sl.ErrorPolicy.DEAD_LETTER, dead_letter_topic="dlq")
    app = sl.App("sj", errors=errors)
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    left.join(right, lambda lv, rv: 1 // 0, windows=sl.JoinWindows(10), name="j").to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("right", S, S).pipe("k", "r", 1)
        driver.input_topic("left", S, S).pipe("k", "l", 2)
        (dead,) = driver.output_topic("dlq", S, S).read_records()
        assert dead.value == "l"
        assert dict(dead.headers)["streamlet.source.topic"] == b"left"
        assert driver.output_topic("out").is_empty()


def test_stores_stay_small_over_a_long_stream() -> None:
    events: list[Event] = [(i % 2, f"k{i % 7}", str(i), i * 3) for i in range(3000)]
    got, driver = run(events, 20, 10, "outer_join")
    assert got == model(events, 20, 10, "outer_join")
    # records stay while open (d + g = 30 ms, 10 records) plus one scan step (20 ms)
    for name in ("j-left-store", "j-right-store"):
        assert driver.store(name).approximate_count() <= 2 * (10 + 7) + 2
    assert driver.store("j-outer-store").approximate_count() <= 15
    driver.close()


def test_unmatched_result_whose_joiner_raises_is_located_and_emitted_at_most_once() -> None:
    def picky(left: Any, right: Any) -> str:
        if right is None and left == "bad":
            raise ValueError("no partner for bad")
        return f"{left}+{right}"

    errors = sl.ErrorPolicies(processing=sl.ErrorPolicy.CONTINUE)
    app = sl.App("sj", errors=errors)
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    left.left_join(right, picky, windows=sl.JoinWindows(5), name="j").to("out", value_serde=S)
    with TopologyTestDriver(app) as driver:
        lefts = driver.input_topic("left", S, S)
        out = driver.output_topic("out", S, S)
        lefts.pipe("a", "bad", 1)
        lefts.pipe("b", "good", 2)
        lefts.pipe("c", "closer", 20)  # closes both: "bad" raises, skipped by the policy
        assert out.read_values() == []
        lefts.pipe("c", "later", 21)  # the rest comes out with the next record; "bad" never
        assert out.read_values() == ["good+None"]


def test_join_after_a_repartition_runs_across_two_subtopologies() -> None:
    app = sl.App("sj")
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    by_value = left.select_key(lambda _k, v: v).repartition("by-value", key_serde=S, value_serde=S)
    by_value.join(right, pair, windows=sl.JoinWindows(10), name="j").to("out", value_serde=J)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("right", S, S).pipe("x", "r", 5)
        driver.input_topic("left", S, S).pipe("ignored", "x", 8)
        assert driver.output_topic("out", S, J).read_key_values() == [("x", ["x", "r"])]


def _restored(app: sl.App, first: TopologyTestDriver) -> TopologyTestDriver:
    """A driver whose task starts from stores rebuilt from ``first``'s changelogs only, as a
    worker restarting on a wiped state dir does."""
    driver = TopologyTestDriver(app)
    (sub,) = driver.topology.subtopologies
    stores = {}
    for name in sub.stores:
        spec = driver.topology.stores[name]
        assert spec.changelog is not None
        writes = {m.key: m.value for m in first.output_topic(spec.changelog).read_records()}
        buffered = BufferedStore(MemoryStore(name))
        buffered.apply_restored(writes, len(writes))
        stores[name] = TaskStore(spec, buffered)
    task = Task(
        sub,
        0,
        stores,
        driver._produce,
        lambda _topic: 1,
        driver.config.errors,
        driver.config.dead_letter_topic,
        lambda: None,
    )
    driver._tasks[0] = task
    driver._reader.update(dict.fromkeys(sub.source_topics, task))
    return driver


def _app(d: int, g: int, method: str) -> sl.App:
    app = sl.App("sj")
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    joined = getattr(left, method)(right, pair, windows=sl.JoinWindows(d, grace_ms=g), name="j")
    joined.to("out", value_serde=J)
    return app


@settings(max_examples=60, deadline=None)
@given(
    events=events_st,
    cut=st.integers(0, 40),
    d=st.integers(0, 12),
    g=st.integers(0, 10),
    method=st.sampled_from(METHODS),
)
def test_restart_from_the_changelogs_alone_continues_the_same_join(
    events: list[Event], cut: int, d: int, g: int, method: str
) -> None:
    app = _app(d, g, method)
    got = []
    first = TopologyTestDriver(app)
    for side, key, value, ts in events[:cut]:
        first.input_topic(("left", "right")[side], S, S).pipe(key, value, ts)
    got += first.output_topic("out", S, J).read_records()
    second = _restored(app, first)
    first.close()
    for side, key, value, ts in events[cut:]:
        second.input_topic(("left", "right")[side], S, S).pipe(key, value, ts)
    got += second.output_topic("out", S, J).read_records()
    second.close()
    assert [(r.key, r.value, r.timestamp) for r in got] == model(events, d, g, method)
