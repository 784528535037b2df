"""TopologyTestDriver: piping, reading, stores and commits, errors, punctuation, closing."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.config import AppConfig, ErrorPolicies, ErrorPolicy
from streamlet.errors import (
    ProcessingError,
    SerializationError,
    StreamletError,
    TopicError,
    TopologyError,
)
from streamlet.testing import TopologyTestDriver

S, J = serde.String(), serde.Json()


def _echo_app(app_id: str = "drv") -> sl.App:
    app = sl.App(app_id)
    app.stream("in", S, J).to("out")
    return app


def _counting_app(fail_on: str | None = None) -> sl.App:
    """Counts per key in store "counts"; raises after the store write on key ``fail_on``."""
    app = sl.App("cnt")

    def check(key: str, count: int) -> None:
        if key == fail_on:
            raise ValueError(f"refusing {key}")

    app.stream("in", S, J).group_by_key().count(name="counts").to_stream().peek(check).to(
        "out", value_serde=serde.Int64()
    )
    return app


def test_pipe_passes_key_value_timestamp_and_headers() -> None:
    with TopologyTestDriver(_echo_app()) as driver:
        driver.input_topic("in", S, J).pipe("k", {"v": 1}, timestamp=42, headers=[("h", b"x")])
        (record,) = driver.output_topic("out", S, J).read_records()
    assert (record.key, record.value, record.timestamp) == ("k", {"v": 1}, 42)
    assert record.headers == (("h", b"x"),)
    assert (record.topic, record.partition, record.offset) == ("out", 0, 0)


def test_pipe_without_timestamp_uses_auto_advancing_topic_time() -> None:
    with TopologyTestDriver(_echo_app()) as driver:
        topic = driver.input_topic("in", S, J, start_timestamp_ms=1000, auto_advance_ms=10)
        topic.pipe_many([("a", 1), ("b", 2), sl.Record("c", 3, timestamp=5)])
        topic.pipe("d", 4)
        records = driver.output_topic("out", S, J).read_records()
    assert [(r.key, r.timestamp) for r in records] == [
        ("a", 1000),
        ("b", 1010),
        ("c", 5),
        ("d", 1020),
    ]
    assert [r.offset for r in records] == [0, 1, 2, 3]


def test_input_topic_rejects_topic_not_read() -> None:
    with TopologyTestDriver(_echo_app()) as driver, pytest.raises(TopologyError, match="nope"):
        driver.input_topic("nope", S, J)


def test_output_topic_reads_are_destructive_and_shared() -> None:
    with TopologyTestDriver(_echo_app()) as driver:
        first, second = driver.output_topic("out", S, J), driver.output_topic("out")
        assert first.is_empty()
        driver.input_topic("in", S, J).pipe_many([("a", 1), ("b", 2)])
        assert first.queue_size() == 2
        assert first.read_record().value == 1
        assert second.read_key_values() == [(b"b", b"2")]  # no serdes: bytes
        assert first.is_empty() and second.is_empty()
        with pytest.raises(IndexError):
            first.read_record()


def test_driver_accepts_bare_topology() -> None:
    with TopologyTestDriver(_echo_app().topology()) as driver:
        driver.input_topic("in", S, J).pipe("k", "v")
        assert driver.output_topic("out", S, J).read_values() == ["v"]
        assert driver.config.application_id == "drv"


def test_store_shows_committed_state_and_changelog_is_readable() -> None:
    with TopologyTestDriver(_counting_app()) as driver:
        driver.input_topic("in", S, J).pipe_many([("a", 0), ("b", 0), ("a", 0)])
        store = driver.store("counts")
        assert store.get("a") == 2
        assert list(store.all()) == [("a", 2), ("b", 1)]
        assert list(store.range("a", "b")) == [("a", 2)]
        changelog = driver.output_topic("cnt-counts-changelog", S, serde.Int64())
        assert changelog.read_key_values() == [("a", 1), ("b", 1), ("a", 2)]


def test_store_rejects_unknown_name() -> None:
    with TopologyTestDriver(_counting_app()) as driver, pytest.raises(TopologyError):
        driver.store("missing")


def test_pipe_failure_propagates_located_and_aborts() -> None:
    with TopologyTestDriver(_counting_app(fail_on="bad")) as driver:
        topic = driver.input_topic("in", S, J)
        topic.pipe("bad-not", 0)
        topic.pipe("bad-not", 0)
        with pytest.raises(ProcessingError, match="refusing bad") as caught:
            topic.pipe("bad", 0)
        assert (caught.value.topic, caught.value.partition, caught.value.offset) == ("in", 0, 2)
        # the committed count survives the abort; the failed record's write does not
        assert list(driver.store("counts").all()) == [("bad-not", 2)]
        out = driver.output_topic("out", S, serde.Int64())
        assert out.read_key_values() == [("bad-not", 1), ("bad-not", 2)]
        topic.pipe("good", 0)
        assert out.read_key_values() == [("good", 1)]


def test_pipe_failure_in_repartitioned_task_names_repartition_topic() -> None:
    app = sl.App("rp")

    def explode(value: Any) -> Any:
        raise RuntimeError("boom")

    app.stream("in", S, J).repartition("moved").map_values(explode).to("out")
    with TopologyTestDriver(app) as driver:
        with pytest.raises(ProcessingError, match="boom") as caught:
            driver.input_topic("in", S, J).pipe("k", 1)
        assert caught.value.topic == "rp-moved-repartition"
        assert driver.output_topic("rp-moved-repartition").is_empty()  # aborted


def test_continue_policy_skips_failed_record() -> None:
    config = AppConfig("cnt", errors=ErrorPolicies(processing=ErrorPolicy.CONTINUE))
    with TopologyTestDriver(_counting_app(fail_on="bad"), config) as driver:
        driver.input_topic("in", S, J).pipe_many([("bad", 0), ("ok", 0)])
        assert driver.output_topic("out", S, serde.Int64()).read_key_values() == [("ok", 1)]


def test_dead_letter_policy_produces_original_bytes_with_error_headers() -> None:
    errors = ErrorPolicies(deserialization=ErrorPolicy.DEAD_LETTER, dead_letter_topic="dlq")
    with TopologyTestDriver(_echo_app(), AppConfig("drv", errors=errors)) as driver:
        driver.input_topic("in", S, S).pipe("k", "{not json")
        (dead,) = driver.output_topic("dlq", S, S).read_records()
        assert driver.output_topic("out").is_empty()
    assert dead.value == "{not json"
    assert dict(dead.headers)["streamlet.source.topic"] == b"in"


def test_deserialization_failure_propagates_located() -> None:
    with TopologyTestDriver(_echo_app()) as driver:
        topic = driver.input_topic("in", S, S)
        with pytest.raises(SerializationError) as caught:
            topic.pipe("k", "{not json")
    assert (caught.value.topic, caught.value.offset) == ("in", 0)


def test_partitioner_choosing_missing_partition_fails() -> None:
    app = sl.App("part")
    app.stream("in", S, J).to("out", partitioner=lambda _k, _v, n: n)
    with TopologyTestDriver(app) as driver, pytest.raises(TopicError, match="one partition"):
        driver.input_topic("in", S, J).pipe("k", 1)


def test_output_to_own_source_topic_is_fed_back() -> None:
    app = sl.App("loop")
    app.stream("in", S, J).map_values(lambda v: v + 1).to("middle")
    app.stream("middle", S, J).map_values(lambda v: v * 10).to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe("k", 1)
        assert driver.output_topic("out", S, J).read_values() == [20]
        assert driver.output_topic("middle", S, J).read_values() == [2]


class _Ticker:
    """Forwards a tick per punctuation; counts close() calls in ``closed``."""

    closed: ClassVar[list[str]] = []

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def init(self, ctx: Any) -> None:
        self._ctx = ctx
        ctx.schedule(100, self._kind, self._tick)

    def _tick(self, now: int) -> None:
        self._ctx.forward(sl.Record("tick", now, now))

    def process(self, record: sl.Record) -> None:
        self._ctx.forward(record)

    def close(self) -> None:
        _Ticker.closed.append(self._kind)


def _ticker_app(kind: str) -> sl.App:
    app = sl.App("tick")
    app.stream("in", S, J).process(lambda: _Ticker(kind)).to("out", key_serde=S)
    return app


def test_advance_wall_clock_fires_due_punctuators_once() -> None:
    with TopologyTestDriver(_ticker_app("wall_clock"), wall_clock_start_ms=1000) as driver:
        out = driver.output_topic("out", S, J)
        driver.advance_wall_clock(99)
        assert out.is_empty()
        driver.advance_wall_clock(1)
        assert out.read_values() == [1100]
        driver.advance_wall_clock(350)  # missed intervals are skipped, as in the worker
        assert out.read_values() == [1450]
        assert driver.wall_clock_ms == 1450
        with pytest.raises(ValueError):
            driver.advance_wall_clock(-1)


def test_stream_time_punctuators_fire_from_record_timestamps() -> None:
    with TopologyTestDriver(_ticker_app("stream_time")) as driver:
        topic = driver.input_topic("in", S, J)
        out = driver.output_topic("out", S, J)
        topic.pipe("a", 1, timestamp=50)
        topic.pipe("b", 2, timestamp=99)
        driver.advance_wall_clock(10_000)
        assert out.read_key_values() == [("a", 1), ("tick", 50), ("b", 2)]
        topic.pipe("c", 3, timestamp=100)
        assert out.read_key_values() == [("c", 3), ("tick", 100)]


def test_close_closes_processors_and_rejects_further_use() -> None:
    _Ticker.closed.clear()
    driver = TopologyTestDriver(_ticker_app("wall_clock"))
    topic = driver.input_topic("in", S, J)
    with driver:
        pass
    driver.close()  # idempotent
    assert _Ticker.closed == ["wall_clock"]
    with pytest.raises(StreamletError, match="closed"):
        topic.pipe("k", 1)
    with pytest.raises(StreamletError, match="closed"):
        driver.advance_wall_clock(1)


def test_punctuation_enum_members_schedule_like_their_strings() -> None:
    assert sl.Punctuation.WALL_CLOCK == "wall_clock"
    with TopologyTestDriver(_ticker_app(sl.Punctuation.WALL_CLOCK), wall_clock_start_ms=0) as d:
        d.advance_wall_clock(100)
        assert d.output_topic("out", S, J).read_values() == [100]
