"""Every DSL operation, run through the TopologyTestDriver (and so through the real tasks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.testing import InputTopic, OutputTopic, TopologyTestDriver

S, J, I64 = serde.String(), serde.Json(), serde.Int64()


@pytest.fixture
def app() -> sl.App:
    return sl.App("ops")


@pytest.fixture
def run(app: sl.App) -> Iterator[Callable[..., tuple[InputTopic, OutputTopic]]]:
    """``run(out_key_serde=S, out_value_serde=J)`` -> (input "in", output "out") of ``app``."""
    drivers: list[TopologyTestDriver] = []

    def start(ks: Any = S, vs: Any = J) -> tuple[InputTopic, OutputTopic]:
        driver = TopologyTestDriver(app)
        drivers.append(driver)
        return driver.input_topic("in", S, J), driver.output_topic("out", ks, vs)

    yield start
    for driver in drivers:
        driver.close()


def _source(app: sl.App) -> sl.Stream:
    return app.stream("in", key_serde=S, value_serde=J)


def test_map_changes_key_and_value(app: sl.App, run: Any) -> None:
    _source(app).map(lambda k, v: (v, k)).to("out", key_serde=J, value_serde=S)
    inp, out = run(J, S)
    inp.pipe("a", 1)
    assert out.read_key_values() == [(1, "a")]


def test_map_values_keeps_key(app: sl.App, run: Any) -> None:
    _source(app).map_values(lambda v: v * 2).to("out")
    inp, out = run()
    inp.pipe_many([("a", 1), ("b", 2)])
    assert out.read_key_values() == [("a", 2), ("b", 4)]


def test_flat_map_emits_each_pair_in_order(app: sl.App, run: Any) -> None:
    _source(app).flat_map(lambda k, v: [(f"{k}{i}", i) for i in range(v)]).to("out", key_serde=S)
    inp, out = run()
    inp.pipe_many([("a", 2), ("b", 0), ("c", 1)])
    assert out.read_key_values() == [("a0", 0), ("a1", 1), ("c0", 0)]


def test_flat_map_values_keeps_key_and_timestamp(app: sl.App, run: Any) -> None:
    _source(app).flat_map_values(lambda v: v.split()).to("out")
    inp, out = run()
    inp.pipe("k", "x y", timestamp=7)
    assert [(r.key, r.value, r.timestamp) for r in out.read_records()] == [
        ("k", "x", 7),
        ("k", "y", 7),
    ]


def test_filter_keeps_matching_records(app: sl.App, run: Any) -> None:
    _source(app).filter(lambda _k, v: v % 2 == 0).to("out")
    inp, out = run()
    inp.pipe_many([("a", 1), ("b", 2), ("c", 4)])
    assert out.read_values() == [2, 4]


def test_filter_not_drops_matching_records(app: sl.App, run: Any) -> None:
    _source(app).filter_not(lambda _k, v: v % 2 == 0).to("out")
    inp, out = run()
    inp.pipe_many([("a", 1), ("b", 2), ("c", 3)])
    assert out.read_values() == [1, 3]


def test_select_key_replaces_key(app: sl.App, run: Any) -> None:
    _source(app).select_key(lambda _k, v: v["id"]).to("out", key_serde=I64)
    inp, out = run(I64, J)
    inp.pipe("x", {"id": 5})
    assert out.read_key_values() == [(5, {"id": 5})]


def test_peek_sees_records_and_passes_them_on(app: sl.App, run: Any) -> None:
    seen: list[tuple[str, int]] = []
    _source(app).peek(lambda k, v: seen.append((k, v))).to("out")
    inp, out = run()
    inp.pipe("a", 1)
    assert seen == [("a", 1)]
    assert out.read_key_values() == [("a", 1)]


def test_split_routes_to_first_matching_branch_or_default(app: sl.App) -> None:
    branches = (
        _source(app)
        .split(name="by-size")
        .branch(lambda _k, v: v < 10, name="small")
        .branch(lambda _k, v: v < 100, name="medium")
        .default_branch()
    )
    for branch, stream in branches.items():
        stream.to(branch)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe_many([("a", 1), ("b", 50), ("c", 500), ("d", 5)])
        got = {b: driver.output_topic(b, S, J).read_values() for b in branches}
    assert got == {"small": [1, 5], "medium": [50], "default": [500]}


def test_split_without_default_drops_unmatched(app: sl.App, run: Any) -> None:
    branches = _source(app).split().branch(lambda _k, v: v > 0, name="pos").no_default_branch()
    branches["pos"].to("out")
    inp, out = run()
    inp.pipe_many([("a", -1), ("b", 1)])
    assert out.read_values() == [1]


def test_merge_combines_streams(app: sl.App) -> None:
    left = _source(app)
    right = app.stream("in2", key_serde=S, value_serde=J)
    left.merge(right.map_values(lambda v: -v)).to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe("a", 1)
        driver.input_topic("in2", S, J).pipe("b", 2)
        assert driver.output_topic("out", S, J).read_key_values() == [("a", 1), ("b", -2)]


def test_repartition_writes_through_internal_topic(app: sl.App) -> None:
    _source(app).select_key(lambda _k, v: v).repartition("by-value", key_serde=I64).map_values(
        lambda v: v + 1
    ).to("out")
    with TopologyTestDriver(app) as driver:
        assert len(driver.topology.subtopologies) == 2
        driver.input_topic("in", S, J).pipe("a", 3)
        moved = driver.output_topic("ops-by-value-repartition", I64, J).read_records()
        assert [(r.key, r.value) for r in moved] == [(3, 3)]
        assert driver.output_topic("out", I64, J).read_key_values() == [(3, 4)]


def test_process_function_forwards_with_context(app: sl.App, run: Any) -> None:
    def double(record: sl.Record, ctx: sl.ProcessorContext) -> None:
        ctx.forward(record.with_value(record.value * 2))
        ctx.forward(record.with_key(ctx.task_id))

    _source(app).process(double).to("out", key_serde=S)
    inp, out = run()
    inp.pipe("a", 2)
    assert out.read_key_values() == [("a", 4), ("0_0", 2)]


class _Dedupe:
    """Processor object: forwards the first record of each key to child "fresh", repeats to
    "dupes"; records its lifecycle in ``events``."""

    events: ClassVar[list[str]] = []

    def init(self, ctx: sl.ProcessorContext) -> None:
        self._ctx = ctx
        self._seen = ctx.store("seen")
        _Dedupe.events.append("init")

    def process(self, record: sl.Record) -> None:
        if self._seen.get(record.key) is None:
            self._seen.put(record.key, record.timestamp)
            self._ctx.forward(record, to="fresh")
        else:
            self._ctx.forward(record, to="dupes")

    def close(self) -> None:
        _Dedupe.events.append("close")


def test_process_object_uses_store_and_named_children(app: sl.App) -> None:
    _Dedupe.events.clear()
    app.store("seen", key_serde=S, value_serde=I64)
    processed = _source(app).process(_Dedupe, stores=("seen",), name="dedupe")
    processed.to("fresh", key_serde=S, name="fresh")
    processed.to("dupes", key_serde=S, name="dupes")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe_many(
            [sl.Record("a", 1, 10), sl.Record("b", 2, 20), sl.Record("a", 3, 30)]
        )
        assert driver.output_topic("fresh", S, J).read_key_values() == [("a", 1), ("b", 2)]
        assert driver.output_topic("dupes", S, J).read_key_values() == [("a", 3)]
        assert list(driver.store("seen").all()) == [("a", 10), ("b", 20)]
        assert _Dedupe.events == ["init"]
    assert _Dedupe.events == ["init", "close"]


def test_process_forward_to_unknown_child_fails(app: sl.App, run: Any) -> None:
    _source(app).process(lambda r, ctx: ctx.forward(r, to="nowhere")).to("out")
    inp, _out = run()
    with pytest.raises(sl.TopologyError, match="nowhere"):
        inp.pipe("a", 1)


class _Window:
    """Sums values and emits the sum on every punctuation of ``kind``, then resets."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def init(self, ctx: sl.ProcessorContext) -> None:
        self._ctx = ctx
        self._sums = ctx.store("sums")
        ctx.schedule(1000, self._kind, self._emit)  # type: ignore[arg-type]

    def process(self, record: sl.Record) -> None:
        self._sums.put(record.key, (self._sums.get(record.key) or 0) + record.value)

    def _emit(self, now: int) -> None:
        for key, total in list(self._sums.all()):
            self._ctx.forward(sl.Record(key, total, now))
            self._sums.delete(key)

    def close(self) -> None:
        pass


def _window_app(app: sl.App, kind: str) -> None:
    app.store("sums", key_serde=S, value_serde=I64)
    _source(app).process(lambda: _Window(kind), stores=("sums",)).to("out", key_serde=S)


def test_process_stream_time_punctuation_follows_timestamps(app: sl.App, run: Any) -> None:
    _window_app(app, "stream_time")
    inp, out = run()
    inp.pipe("a", 1, timestamp=200)  # processed, then the first record fires it at once
    assert [(r.key, r.value, r.timestamp) for r in out.read_records()] == [("a", 1, 200)]
    inp.pipe_many([sl.Record("a", 2, 500), sl.Record("b", 5, 900), sl.Record("a", 9, 300)])
    assert out.is_empty()
    inp.pipe("a", 4, timestamp=1000)  # stream time reaches the next multiple of the interval
    assert [(r.key, r.value, r.timestamp) for r in out.read_records()] == [
        ("a", 15, 1000),
        ("b", 5, 1000),
    ]
    inp.pipe("a", 1, timestamp=3500)  # 2000 and 3000 were skipped: it fires once
    inp.pipe("a", 1, timestamp=3999)
    assert [(r.key, r.value, r.timestamp) for r in out.read_records()] == [("a", 1, 3500)]


def test_process_wall_clock_punctuation_follows_driver_clock(app: sl.App) -> None:
    _window_app(app, "wall_clock")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe_many([("a", 1), ("a", 2)])
        out = driver.output_topic("out", S, J)
        driver.advance_wall_clock(999)
        assert out.is_empty()
        driver.advance_wall_clock(1)
        assert out.read_key_values() == [("a", 3)]
        assert list(driver.store("sums").all()) == []


def test_app_processor_decorator_routes_to_sinks_with_store(app: sl.App) -> None:
    @app.processor(source="orders", sinks=("inventory", "audit-log"), stores=("seen-orders",))
    def route_order(record: sl.Record, ctx: sl.ProcessorContext) -> None:
        seen = ctx.store("seen-orders")
        if seen.get(record.key) is None:
            seen.put(record.key, record.timestamp)
            ctx.forward(record, to="inventory")
            ctx.forward(record.with_value({"order": record.key}), to="audit-log")

    with TopologyTestDriver(app) as driver:
        orders = driver.input_topic("orders", S, J)
        orders.pipe("o1", {"qty": 1}, timestamp=5)
        orders.pipe("o1", {"qty": 1}, timestamp=6)
        assert driver.output_topic("inventory", S, J).read_key_values() == [("o1", {"qty": 1})]
        assert driver.output_topic("audit-log", S, J).read_values() == [{"order": "o1"}]
        assert driver.store("seen-orders").get("o1") == 5


def test_to_serializes_with_given_serdes(app: sl.App) -> None:
    _source(app).map_values(lambda v: v["n"]).to("out", key_serde=S, value_serde=I64)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe("a", {"n": 7})
        (record,) = driver.output_topic("out").read_records()
    assert (record.key, record.value) == (b"a", b"\x00" * 7 + b"\x07")


def test_to_applies_partitioner(app: sl.App, run: Any) -> None:
    seen: list[int] = []

    def partitioner(_k: Any, _v: Any, n: int) -> int:
        seen.append(n)
        return 0

    _source(app).to("out", partitioner=partitioner)
    inp, out = run()
    inp.pipe("a", 1)
    assert seen == [1]
    assert out.read_records()[0].partition == 0


def test_stream_timestamp_extractor_sets_record_time(app: sl.App) -> None:
    app.stream("in", S, J, timestamp_extractor=lambda _k, v, _ts: v["at"]).to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe("a", {"at": 77}, timestamp=1)
        assert driver.output_topic("out").read_records()[0].timestamp == 77


def test_group_by_key_count_counts_per_key(app: sl.App, run: Any) -> None:
    _source(app).group_by_key().count(name="counts").to_stream().to("out", value_serde=I64)
    inp, out = run(S, I64)
    inp.pipe_many([("a", 0), ("b", 0), ("a", 0)])
    assert out.read_key_values() == [("a", 1), ("b", 1), ("a", 2)]


def test_group_by_count_goes_through_repartition_topic(app: sl.App) -> None:
    (
        app.stream("in", S, S)
        .flat_map_values(str.split)
        .group_by(lambda _k, word: word, name="by-word", key_serde=S)
        .count(name="word-counts")
        .to_stream()
        .to("out", value_serde=I64)
    )
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, S).pipe_many([("l1", "to be or"), ("l2", "not to be")])
        # the key serde was given; the value serde fell back to JSON (flat_map_values drops it)
        moved = driver.output_topic("ops-by-word-repartition", S, J).read_key_values()
        assert [key for key, _ in moved] == ["to", "be", "or", "not", "to", "be"]
        assert all(key == value for key, value in moved)
        assert driver.output_topic("out", S, I64).read_key_values()[-2:] == [("to", 2), ("be", 2)]
        assert dict(driver.store("word-counts").all()) == {"to": 2, "be": 2, "or": 1, "not": 1}


def test_reduce_folds_values_per_key(app: sl.App, run: Any) -> None:
    _source(app).group_by_key().reduce(lambda agg, v: agg + v, name="sums").to_stream().to("out")
    inp, out = run()
    inp.pipe_many([("a", 1), ("b", 10), ("a", 2)])
    assert out.read_key_values() == [("a", 1), ("b", 10), ("a", 3)]


def test_aggregate_initializes_then_aggregates(app: sl.App, run: Any) -> None:
    (
        _source(app)
        .group_by_key()
        .aggregate(lambda: [], lambda k, v, agg: [*agg, f"{k}{v}"], name="lists")
        .to_stream()
        .to("out")
    )
    inp, out = run()
    inp.pipe_many([("a", 1), ("a", 2)])
    assert out.read_key_values() == [("a", ["a1"]), ("a", ["a1", "a2"])]


def test_aggregate_drops_null_keys(app: sl.App, run: Any) -> None:
    _source(app).group_by_key().count(name="counts").to_stream().to("out", value_serde=I64)
    inp, out = run(S, I64)
    inp.pipe(None, 1)
    assert out.is_empty()


def test_to_table_keeps_latest_value_per_key(app: sl.App, run: Any) -> None:
    _source(app).to_table("latest").to_stream().to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe_many([("a", 1), ("a", 2), ("b", 3)])
        assert list(driver.store("latest").all()) == [("a", 2), ("b", 3)]
        assert driver.output_topic("out", S, J).read_values() == [1, 2, 3]


def test_app_table_deletes_on_tombstone(app: sl.App) -> None:
    app.table("users", name="users", key_serde=S, value_serde=J).to_stream().to("out")
    with TopologyTestDriver(app) as driver:
        users = driver.input_topic("users", S, J)
        users.pipe_many([("u1", {"n": "ann"}), ("u2", {"n": "bob"})])
        users.pipe("u1", None)
        assert list(driver.store("users").all()) == [("u2", {"n": "bob"})]
        assert driver.output_topic("out", S, J).read_key_values()[-1] == ("u1", None)
        changelog = driver.output_topic("ops-users-changelog", S, J).read_key_values()
        assert changelog[-1] == ("u1", None)
