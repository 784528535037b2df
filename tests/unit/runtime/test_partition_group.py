"""The choice a task with several input partitions makes: which buffered record next, and
whether to wait for an empty partition (``max_task_idle_ms``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY

import streamlet as sl
from streamlet import serde
from streamlet.runtime.partition_group import (
    PartitionGroup,
    consumer_settings,
    orders_inputs,
    take_ready,
)
from streamlet.runtime.task import Task
from streamlet.testing.message import Message

_offsets: dict[str, int] = {}


def msg(topic: str, ts: int) -> Message:
    offset = _offsets[topic] = _offsets.get(topic, -1) + 1
    return Message(topic, 0, offset, None, f"{topic}@{ts}".encode(), ts)


def group(*topics: str) -> PartitionGroup:
    return PartitionGroup(topics or ("a", "b"))


def names(records: Any) -> list[str]:
    return [m.value().decode() for m in records]


# -- order ---------------------------------------------------------------------------------
def test_take_follows_timestamps_when_partitions_interleave() -> None:
    g = group()
    for ts in (1, 4, 5, 8):
        g.add(msg("a", ts))
    for ts in (2, 3, 6, 9):
        g.add(msg("b", ts))
    g.reached_end("a")
    g.reached_end("b")
    assert names(g.take(0.0, -1)) == [
        "a@1", "b@2", "b@3", "a@4", "a@5", "b@6", "a@8", "b@9"
    ]  # fmt: skip


def test_take_breaks_ties_by_topic_order() -> None:
    g = group("b", "a")  # the sub-topology lists b first
    g.add(msg("a", 5))
    g.add(msg("b", 5))
    g.add(msg("a", 5))
    g.add(msg("b", 5))
    assert names(g.take(0.0, -1)) == ["b@5", "b@5", "a@5", "a@5"]


def test_take_keeps_offset_order_when_timestamps_decrease_within_partition() -> None:
    g = group()
    for ts in (10, 1):
        g.add(msg("a", ts))
    for ts in (5, 6):
        g.add(msg("b", ts))
    # a's head (10) is not passed by its own later, earlier-stamped record
    assert names(g.take(0.0, -1)) == ["b@5", "b@6", "a@10", "a@1"]


def test_take_leaves_records_buffered_when_it_must_wait() -> None:
    g = group()
    g.add(msg("a", 1))
    g.add(msg("b", 2))
    g.add(msg("a", 3))
    assert names(g.take(0.0, 0)) == ["a@1", "b@2"]  # then b is empty, its end unknown
    assert len(g) == 1
    g.add(msg("b", 4))
    assert names(g.take(0.0, 0)) == ["a@3"]  # then a is empty
    assert len(g) == 1


# -- waiting for an empty partition ---------------------------------------------------------
def test_take_waits_when_empty_partition_has_not_reached_its_end() -> None:
    g = group()
    g.add(msg("a", 1))
    for idle in (0, 60_000):
        assert names(g.take(100.0, idle)) == []
    assert g.enforced == 0


def test_take_proceeds_when_empty_partition_reached_its_end_and_idle_is_zero() -> None:
    g = group()
    g.reached_end("b")
    g.add(msg("a", 1))
    g.add(msg("a", 2))
    assert names(g.take(100.0, 0)) == ["a@1", "a@2"]
    assert g.enforced == 2


def test_take_waits_when_records_arrive_after_the_end() -> None:
    g = group()
    g.reached_end("b")
    g.add(msg("b", 7))  # fetched after the end event: b has records again
    g.add(msg("a", 1))
    assert names(g.take(0.0, 0)) == ["a@1"]  # b@7 waits: a is empty, its end unknown


def test_take_waits_until_idle_time_passes_when_idle_is_positive() -> None:
    g = group()
    g.reached_end("b")
    g.add(msg("a", 1))
    assert names(g.take(100.0, 500)) == []  # the deadline starts now: 100.5
    assert names(g.take(100.4, 500)) == []
    assert names(g.take(100.5, 500)) == ["a@1"]
    assert g.enforced == 1


def test_take_restarts_the_idle_wait_when_partition_empties_again() -> None:
    g = group()
    g.reached_end("b")
    g.add(msg("a", 1))
    assert names(g.take(100.0, 500)) == []
    g.add(msg("b", 2))
    g.reached_end("b")
    g.add(msg("a", 3))
    assert names(g.take(101.0, 500)) == ["a@1", "b@2"]  # both buffered: no wait
    assert names(g.take(101.0, 500)) == []  # b empty again: a new deadline, 101.5
    assert names(g.take(101.5, 500)) == ["a@3"]


def test_take_never_waits_when_idle_is_disabled() -> None:
    g = group()
    g.add(msg("a", 3))
    g.add(msg("a", 4))
    assert names(g.take(0.0, -1)) == ["a@3", "a@4"]
    assert g.enforced == 0  # -1 chose not to wait: nothing is enforced


# -- the worker's side ---------------------------------------------------------------------
@dataclass
class FakeTask:
    task_id: str
    inputs: PartitionGroup | None


def test_take_ready_counts_enforced_records_per_task() -> None:
    g = group()
    g.reached_end("b")
    g.add(msg("a", 1))
    single = FakeTask("single-0", None)
    grouped = FakeTask("pg-test-0", g)
    sample = "streamlet_enforced_processing_total"
    before = REGISTRY.get_sample_value(sample, {"task": "pg-test-0"}) or 0.0
    taken = [(t.task_id, names(ms)) for t, ms in take_ready([single, grouped], 0.0, 0)]
    assert taken == [("pg-test-0", ["a@1"])]
    assert REGISTRY.get_sample_value(sample, {"task": "pg-test-0"}) == before + 1


def _two_topic_app(extractor: Any = None) -> sl.App:
    app = sl.App("pg-test")
    app.stream(["left", "right"], serde.String(), serde.Json(), extractor).to("out")
    return app


def test_consumer_settings_enable_eof_only_when_a_task_may_wait() -> None:
    two = _two_topic_app().topology()
    one = sl.App("pg-one")
    one.stream("left").to("out")
    assert orders_inputs(two) and not orders_inputs(one.topology())
    assert consumer_settings(two, 0) == {"enable.partition.eof": True}
    assert consumer_settings(two, -1) == {}
    assert consumer_settings(one.topology(), 0) == {}


def _task(app: sl.App) -> Task:
    sub = app.topology().subtopologies[0]
    return Task(sub, 0, {}, lambda *a: None, lambda t: 1, app.config.errors, "dlq", lambda: None)


def test_task_has_group_only_when_it_reads_several_partitions() -> None:
    single = sl.App("pg-one")
    single.stream("left").to("out")
    assert _task(single).inputs is None
    assert _task(_two_topic_app()).inputs is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b'{"t": 42}', 42), (b"not json", 7), (b'{"t": -3}', 7)],
)
def test_event_time_uses_extractor_and_falls_back_when_it_fails(
    value: bytes, expected: int
) -> None:
    task = _task(_two_topic_app(lambda _k, v, _ts: v["t"]))
    assert task.event_time(Message("right", 0, 0, b"k", value, 7)) == expected


def test_app_config_raises_when_max_task_idle_ms_below_minus_one() -> None:
    with pytest.raises(sl.ConfigError, match="max_task_idle_ms must be -1"):
        sl.App("pg-test", max_task_idle_ms=-2)
    assert sl.App("pg-test", max_task_idle_ms=-1).config.max_task_idle_ms == -1


def test_task_group_orders_by_extracted_time_when_source_has_extractor() -> None:
    group = _task(_two_topic_app(lambda _k, v, _ts: v["t"])).inputs
    assert group is not None
    group.add(Message("left", 0, 0, b"k", b'{"t": 20}', 1))
    group.add(Message("right", 0, 0, b"k", b'{"t": 10}', 2))
    assert [m.topic() for m in group.take(0.0, -1)] == ["right", "left"]
