"""Session aggregations through the TopologyTestDriver against a brute-force model of the
pinned semantics (DESIGN.md §1 "Time: windows")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S, J, I64 = serde.String(), serde.Json(), serde.Int64()

Records = list[tuple[str, int, int]]  # (key, value, timestamp)

# name -> (DSL, value serde, model initializer, aggregator(value, agg), merger(a, b))
AGGREGATIONS: dict[str, tuple[Callable[[Any], sl.Table], serde.Serde[Any], Any, Any, Any]] = {
    "count": (lambda w: w.count("agg"), I64, lambda: 0, lambda v, a: a + 1, lambda a, b: a + b),
    "reduce": (
        lambda w: w.reduce(lambda a, v: a + v, "agg", value_serde=I64),
        I64,
        lambda: None,
        lambda v, a: v if a is None else a + v,
        lambda a, b: b if a is None else a + b,
    ),
    "aggregate": (
        lambda w: w.aggregate(list, lambda _k, v, a: [*a, v], lambda _k, a, b: a + b, "agg"),
        J,
        list,
        lambda v, a: [*a, v],
        lambda a, b: a + b,
    ),
}


def model(
    records: Records, gap: int, grace: int, emit: sl.Emit, aggregation: str
) -> list[tuple[sl.Windowed, Any]]:
    """Sessions as plain lists, every one checked for every record."""
    _, _, init, add, merge = AGGREGATIONS[aggregation]
    sessions: list[dict[str, Any]] = []  # key, start, end, agg, emitted
    out: list[tuple[sl.Windowed, Any]] = []
    stream_time = -1
    for key, value, ts in records:
        stream_time = max(stream_time, ts)
        closed_before = stream_time - gap - grace  # closed iff end < this
        live = sorted(
            (
                s
                for s in sessions
                if s["key"] == key
                and s["end"] >= max(ts - gap, closed_before)
                and s["start"] <= ts + gap
            ),
            key=lambda s: (s["end"], s["start"]),
        )
        start = min([ts, *(s["start"] for s in live)])
        end = max([ts, *(s["end"] for s in live)])
        if end + gap + grace >= stream_time:  # else late
            agg = init()
            for s in live:
                agg = merge(agg, s["agg"])
            agg = add(value, agg)
            for s in live:
                sessions.remove(s)
                if emit is sl.Emit.ON_WINDOW_UPDATE and (s["start"], s["end"]) != (start, end):
                    out.append((sl.Windowed(key, s["start"], s["end"]), None))
            sessions.append({"key": key, "start": start, "end": end, "agg": agg, "emitted": False})
            if emit is sl.Emit.ON_WINDOW_UPDATE:
                out.append((sl.Windowed(key, start, end), agg))
        if emit is sl.Emit.ON_WINDOW_CLOSE:
            for s in sorted(sessions, key=lambda s: (s["end"], s["key"], s["start"])):
                if not s["emitted"] and s["end"] < closed_before:
                    s["emitted"] = True
                    out.append((sl.Windowed(s["key"], s["start"], s["end"]), s["agg"]))
    return out


def run(
    records: Records, windows: sl.SessionWindows, emit: sl.Emit, aggregation: str
) -> tuple[list[tuple[Any, Any]], TopologyTestDriver]:
    build, value_serde, *_ = AGGREGATIONS[aggregation]
    app = sl.App("sessions")
    grouped = app.stream("in", key_serde=S, value_serde=I64).group_by_key(value_serde=I64)
    build(grouped.windowed_by(windows, emit=emit)).to_stream().to("out", value_serde=value_serde)
    driver = TopologyTestDriver(app)
    inp = driver.input_topic("in", S, I64)
    for key, value, ts in records:
        inp.pipe(key, value, ts)
    return driver.output_topic(
        "out", serde.SessionWindowed(S), value_serde
    ).read_key_values(), driver


@settings(max_examples=80, deadline=None)
@given(
    records=st.lists(
        st.tuples(st.sampled_from("ab"), st.integers(0, 9), st.integers(0, 80)), max_size=30
    ),
    gap=st.integers(1, 12),
    grace=st.integers(0, 10),
    emit=st.sampled_from(sl.Emit),
    aggregation=st.sampled_from(sorted(AGGREGATIONS)),
)
def test_sessions_match_the_model(
    records: Records, gap: int, grace: int, emit: sl.Emit, aggregation: str
) -> None:
    got, driver = run(records, sl.SessionWindows(gap, grace_ms=grace), emit, aggregation)
    driver.close()
    assert got == model(records, gap, grace, emit, aggregation)


def test_bridging_record_merges_sessions_and_tombstones_the_old_ones() -> None:
    records = [("a", 1, 0), ("a", 1, 10), ("a", 1, 5)]
    windows = sl.SessionWindows(5, grace_ms=5)  # [0, 0] is still open at stream time 10
    got, driver = run(records, windows, sl.Emit.ON_WINDOW_UPDATE, "count")
    driver.close()
    assert got == [
        (sl.Windowed("a", 0, 0), 1),
        (sl.Windowed("a", 10, 10), 1),
        (sl.Windowed("a", 0, 0), None),
        (sl.Windowed("a", 10, 10), None),
        (sl.Windowed("a", 0, 10), 3),
    ]


def test_session_closes_once_end_plus_gap_plus_grace_is_passed() -> None:
    records = [("a", 1, 0), ("a", 1, 7), ("a", 1, 8)]
    got, driver = run(records, sl.SessionWindows(5, grace_ms=2), sl.Emit.ON_WINDOW_CLOSE, "count")
    driver.close()
    assert got == [(sl.Windowed("a", 0, 0), 1)]  # 0 + 5 + 2 < 8, not < 7


def test_store_stays_small_over_a_long_stream() -> None:
    records = [(f"k{i % 5}", 1, i * 40) for i in range(2000)]
    _, driver = run(records, sl.SessionWindows(30, grace_ms=10), sl.Emit.ON_WINDOW_CLOSE, "count")
    assert driver.store("agg").approximate_count() <= 2 * 5 * 3 + 1  # two rows per session
    driver.close()
