"""Tumbling and hopping aggregations through the TopologyTestDriver against a brute-force
model of the pinned semantics (DESIGN.md §1 "Time: windows")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S, J, I64 = serde.String(), serde.Json(), serde.Int64()

Records = list[tuple[str, int, int]]  # (key, value, timestamp)

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


def model(
    records: Records, size: int, advance: int, grace: int, emit: sl.Emit, aggregation: str
) -> list[tuple[sl.Windowed, Any]]:
    """Every window checked naively for every record."""
    _, _, init, add = AGGREGATIONS[aggregation]
    windows: dict[tuple[str, int], Any] = {}
    emitted: set[tuple[str, int]] = set()
    out: list[tuple[sl.Windowed, Any]] = []
    stream_time = -1
    for key, value, ts in records:
        stream_time = max(stream_time, ts)
        for start in range(0, ts + 1, advance):
            if not start <= ts < start + size or start + size + grace <= stream_time:
                continue  # not its window, or closed: late
            old = windows.get((key, start), init() if init else None)
            windows[key, start] = add(value, old)
            if emit is sl.Emit.ON_WINDOW_UPDATE:
                out.append((sl.Windowed(key, start, start + size), windows[key, start]))
        if emit is sl.Emit.ON_WINDOW_CLOSE:
            for key, start in sorted(windows, key=lambda w: (w[1], w[0])):
                if (key, start) not in emitted and start + size + grace <= stream_time:
                    emitted.add((key, start))
                    out.append((sl.Windowed(key, start, start + size), windows[key, start]))
    return out


def run(
    records: Records, windows: Any, emit: sl.Emit, aggregation: str
) -> tuple[list[tuple[Any, Any]], TopologyTestDriver]:
    build, value_serde, _, _ = AGGREGATIONS[aggregation]
    app = sl.App("win")
    grouped = app.stream("in", key_serde=S, value_serde=I64).group_by_key(value_serde=I64)
    table = build(grouped.windowed_by(windows, emit=emit))
    table.to_stream().to("out", value_serde=value_serde)
    driver = TopologyTestDriver(app)
    inp = driver.input_topic("in", S, I64)
    for key, value, ts in records:
        inp.pipe(key, value, ts)
    out = driver.output_topic("out", serde.Windowed(S, windows.size_ms), value_serde)
    return out.read_key_values(), driver


records_st = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 9), st.integers(0, 80)), max_size=30
)


@settings(max_examples=60, deadline=None)
@given(
    records=records_st,
    size=st.integers(1, 20),
    grace=st.integers(0, 10),
    emit=st.sampled_from(sl.Emit),
    aggregation=st.sampled_from(sorted(AGGREGATIONS)),
)
def test_tumbling_windows_match_the_model(
    records: Records, size: int, grace: int, emit: sl.Emit, aggregation: str
) -> None:
    got, driver = run(records, sl.TumblingWindows(size, grace_ms=grace), emit, aggregation)
    driver.close()
    assert got == model(records, size, size, grace, emit, aggregation)


@settings(max_examples=60, deadline=None)
@given(
    records=records_st,
    size=st.integers(1, 20),
    data=st.data(),
    grace=st.integers(0, 10),
    emit=st.sampled_from(sl.Emit),
    aggregation=st.sampled_from(sorted(AGGREGATIONS)),
)
def test_hopping_windows_match_the_model(
    records: Records, size: int, data: Any, grace: int, emit: sl.Emit, aggregation: str
) -> None:
    advance = data.draw(st.integers(1, size))
    windows = sl.HoppingWindows(size, advance, grace_ms=grace)
    got, driver = run(records, windows, emit, aggregation)
    driver.close()
    assert got == model(records, size, advance, grace, emit, aggregation)


def test_record_at_end_plus_grace_is_late_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = [("a", 1, 0), ("a", 1, 15), ("a", 1, 9), ("a", 1, 14), ("a", 1, 5)]
    got, driver = run(
        records, sl.TumblingWindows(10, grace_ms=5), sl.Emit.ON_WINDOW_UPDATE, "count"
    )
    # at stream time 15 the window [0, 10) has end + grace = 15: closed, so 9 and 5 are late
    assert got == [
        (sl.Windowed("a", 0, 10), 1),
        (sl.Windowed("a", 10, 20), 1),
        (sl.Windowed("a", 10, 20), 2),
    ]
    assert driver._tasks[0].late_dropped == 2
    driver.close()
    late = [r for r in caplog.records if r.name == "streamlet.windows"]
    assert len(late) == 1  # once per window
    assert "topic in, partition 0, offset 2, timestamp 9" in late[0].getMessage()


def test_window_closes_exactly_at_end_plus_grace() -> None:
    records = [("a", 1, 3), ("a", 1, 14), ("a", 1, 15)]
    got, driver = run(records, sl.TumblingWindows(10, grace_ms=5), sl.Emit.ON_WINDOW_CLOSE, "count")
    driver.close()
    assert got == [(sl.Windowed("a", 0, 10), 1)]  # emitted by the record at 15, not at 14


def test_store_stays_small_over_a_long_stream() -> None:
    records = [(f"k{i % 5}", 1, i * 7) for i in range(3000)]
    _, driver = run(records, sl.TumblingWindows(50, grace_ms=20), sl.Emit.ON_WINDOW_CLOSE, "count")
    # retention 70 ms: at most two windows per key are alive, plus the stream-time row
    assert driver.store("agg").approximate_count() <= 5 * 3 + 1
    driver.close()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: sl.TumblingWindows(0), "size_ms must be > 0"),
        (lambda: sl.HoppingWindows(10, 20), "advance_ms"),
        (lambda: sl.SessionWindows(5, grace_ms=-1), "grace_ms must be >= 0"),
        (lambda: sl.TumblingWindows(1.5), "int"),  # type: ignore[arg-type]
    ],
)
def test_invalid_windows_raise_topology_error(make: Callable[[], Any], match: str) -> None:
    with pytest.raises(sl.TopologyError, match=match):
        make()


def _extracting_app(extractor: Callable[[Any, Any, int], int]) -> sl.App:
    app = sl.App("win")
    stream = app.stream("in", key_serde=S, value_serde=J, timestamp_extractor=extractor)
    windowed = stream.group_by_key().windowed_by(sl.TumblingWindows(10))
    windowed.count("agg").to_stream().to("out", value_serde=I64)
    return app


@pytest.mark.parametrize(
    ("extractor", "match"),
    [(lambda _k, v, _ts: v["at"], "KeyError"), (lambda _k, v, _ts: -5, "returned -5")],
)
def test_bad_extracted_timestamp_fails_located(
    extractor: Callable[[Any, Any, int], int], match: str
) -> None:
    driver = TopologyTestDriver(_extracting_app(extractor))
    with driver, pytest.raises(sl.ProcessingError, match=match) as caught:
        driver.input_topic("in", S, J).pipe("a", {"no": 1})
    assert (caught.value.topic, caught.value.partition, caught.value.offset) == ("in", 0, 0)


def test_bad_extracted_timestamp_goes_to_dead_letters_by_policy() -> None:
    errors = sl.ErrorPolicies(processing=sl.ErrorPolicy.DEAD_LETTER, dead_letter_topic="dlq")
    app = _extracting_app(lambda _k, _v, _ts: -1)
    with TopologyTestDriver(app, sl.AppConfig("win", errors=errors)) as driver:
        driver.input_topic("in", S, J).pipe("a", {"n": 1})
        (dead,) = driver.output_topic("dlq", S, J).read_records()
        assert driver.output_topic("out").is_empty()
    assert dict(dead.headers)["streamlet.source.offset"] == b"0"
