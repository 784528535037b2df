"""Sliding-window (KIP-450) aggregations through the TopologyTestDriver against a brute-force
model: every left and right window of every accepted record, re-folded from scratch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S, J, I64 = serde.String(), serde.Json(), serde.Int64()

# name -> (how the DSL builds it, the value serde, the model's initializer and aggregator)
AGGREGATIONS: dict[str, tuple[Callable[[Any], sl.Table], serde.Serde[Any], Any, Any]] = {
    "count": (lambda w: w.count("agg"), I64, lambda: 0, lambda v, a: a + 1),
    "reduce": (
        lambda w: w.reduce(lambda a, v: a + v, "agg", value_serde=I64),
        I64,
        None,
        lambda v, a: v if a is None else a + v,
    ),
    "aggregate": (
        lambda w: w.aggregate(list, lambda _k, v, a: [*a, v], "agg"),
        J,
        list,
        lambda v, a: [*a, v],
    ),
}

Records = list[tuple[str, int, int]]  # (key, value, timestamp)


def model(
    records: Records, d: int, grace: int, emit: sl.Emit, aggregation: str
) -> list[tuple[sl.Windowed, Any]]:
    _, _, init, add = AGGREGATIONS[aggregation]
    accepted: dict[str, list[tuple[int, int, int]]] = {}  # key -> (seq, ts, value)
    windows: dict[tuple[str, int, int], Any] = {}
    emitted: set[tuple[str, int, int]] = set()
    out: list[tuple[sl.Windowed, Any]] = []
    stream_time, seq = -1, 0
    for key, value, t in records:
        stream_time = max(stream_time, t)
        if max(0, t - d) + d + grace >= stream_time:  # else late
            seq += 1
            recs = accepted.setdefault(key, [])
            recs.append((seq, t, value))
            lefts = {(max(0, ts - d), max(0, ts - d) + d) for _, ts, _ in recs}
            rights = {
                (ts + 1, ts + 1 + d)
                for _, ts, _ in recs
                if any(ts < u <= ts + 1 + d for _, u, _ in recs)
            }
            for start, end in sorted(lefts | rights):
                if end + grace < stream_time:
                    continue  # closed
                if not start <= t <= end and (key, start, end) in windows:
                    continue  # untouched
                agg = init() if init else None
                for _, _, v in sorted(r for r in recs if start <= r[1] <= end):
                    agg = add(v, agg)
                windows[key, start, end] = agg
                if emit is sl.Emit.ON_WINDOW_UPDATE:
                    out.append((sl.Windowed(key, start, end), agg))
        if emit is sl.Emit.ON_WINDOW_CLOSE:
            for w in sorted(windows, key=lambda w: (w[2], w[0], w[1])):
                if w not in emitted and w[2] + grace < stream_time:
                    emitted.add(w)
                    out.append((sl.Windowed(*w), windows[w]))
    return out


@settings(max_examples=80, deadline=None)
@given(
    records=st.lists(
        st.tuples(st.sampled_from("ab"), st.integers(0, 9), st.integers(0, 60)), max_size=25
    ),
    d=st.integers(1, 15),
    grace=st.integers(0, 10),
    emit=st.sampled_from(sl.Emit),
    aggregation=st.sampled_from(sorted(AGGREGATIONS)),
)
def test_sliding_windows_match_the_model(
    records: Records, d: int, grace: int, emit: sl.Emit, aggregation: str
) -> None:
    build, value_serde, _, _ = AGGREGATIONS[aggregation]
    app = sl.App("sliding")
    grouped = app.stream("in", key_serde=S, value_serde=I64).group_by_key(value_serde=I64)
    windowed = grouped.windowed_by(sl.SlidingWindows(d, grace_ms=grace), emit=emit)
    build(windowed).to_stream().to("out", value_serde=value_serde)
    with TopologyTestDriver(app) as driver:
        inp = driver.input_topic("in", S, I64)
        for key, value, ts in records:
            inp.pipe(key, value, ts)
        got = driver.output_topic("out", serde.Windowed(S, d), value_serde).read_key_values()
    assert got == model(records, d, grace, emit, aggregation)


def test_out_of_order_record_creates_its_right_window() -> None:
    app = sl.App("sliding")
    grouped = app.stream("in", key_serde=S, value_serde=I64).group_by_key(value_serde=I64)
    grouped.windowed_by(sl.SlidingWindows(10, grace_ms=20)).count("agg").to_stream().to(
        "out", value_serde=I64
    )
    with TopologyTestDriver(app) as driver:
        inp = driver.input_topic("in", S, I64)
        inp.pipe("a", 1, 20)
        inp.pipe("a", 1, 15)  # joins [10, 20]; its own left [5, 15]; right [16, 26] holds 20
        got = driver.output_topic("out", serde.Windowed(S, 10), I64).read_key_values()
    assert got == [
        (sl.Windowed("a", 10, 20), 1),
        (sl.Windowed("a", 5, 15), 1),
        (sl.Windowed("a", 10, 20), 2),
        (sl.Windowed("a", 16, 26), 1),
    ]
