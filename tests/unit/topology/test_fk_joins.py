"""The foreign-key join's topology: its internal topics are sized like the side that reads
them (no co-partitioning is needed), and it refuses what Kafka Streams refuses."""

from __future__ import annotations

from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.errors import TopologyError
from streamlet.kafka.admin import TopicInfo
from streamlet.runtime.topics import prepare_topics

S = serde.String()


class _Admin:
    """The two calls ``prepare_topics`` makes, over fixed partition counts."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = partitions
        self.created: dict[str, int] = {}

    def describe(self, topics: list[str]) -> dict[str, TopicInfo | None]:
        return {
            t: TopicInfo(t, self.partitions[t]) if t in self.partitions else None for t in topics
        }

    def ensure_topic(self, name: str, partitions: int, config: Any, rf: int = -1) -> None:
        self.created[name] = partitions


def _join(app: sl.App, right: sl.Table) -> None:
    orders = app.table("orders", name="orders", key_serde=S, value_serde=serde.Json())
    joined = orders.join(right, lambda o, c: [o, c], foreign_key=lambda o: o["c"], name="fk")
    joined.to_stream().to("out")


def test_internal_topics_are_sized_like_the_side_that_reads_them() -> None:
    app = sl.App("fk")
    _join(app, app.table("customers", name="customers", key_serde=S, value_serde=S))
    admin = _Admin({"orders": 3, "customers": 2, "out": 1})
    prepare_topics(admin, app.topology())  # type: ignore[arg-type]
    assert admin.created["fk-fk-subscription-registration-topic"] == 2
    assert admin.created["fk-fk-subscription-response-topic"] == 3
    assert admin.created["fk-fk-subscription-store-changelog"] == 2
    assert admin.created["fk-fk-changelog"] == 3


@pytest.mark.parametrize("partitions", [4, None])
def test_right_table_behind_a_repartition_sizes_the_subscriptions(partitions: int | None) -> None:
    """The right table is an aggregate behind a repartition topic (4 partitions, or the 5
    of its input): the subscription topic must get its count, not the left table's 3."""
    app = sl.App("fk")
    events = app.stream("events", key_serde=S, value_serde=S)
    grouped = events.group_by(lambda _k, v: v, "by-customer", key_serde=S, partitions=partitions)
    _join(app, grouped.count("customers"))
    admin = _Admin({"orders": 3, "events": 5, "out": 1})
    prepare_topics(admin, app.topology())  # type: ignore[arg-type]
    assert admin.created["fk-fk-subscription-registration-topic"] == (partitions or 5)
    assert admin.created["fk-fk-subscription-response-topic"] == 3


def test_outer_join_and_missing_name_are_refused() -> None:
    app = sl.App("fk")
    left = app.table("left", name="left", key_serde=S, value_serde=S)
    right = app.table("right", name="right", key_serde=S, value_serde=S)
    with pytest.raises(TopologyError, match="outer_join"):
        left.outer_join(right, lambda a, b: a, foreign_key=lambda v: v, name="j")
    with pytest.raises(TopologyError, match="name="):
        left.join(right, lambda a, b: a, foreign_key=lambda v: v)
    with pytest.raises(TopologyError, match="foreign_key must be"):
        left.join(right, lambda a, b: a, foreign_key="c", name="j")  # type: ignore[arg-type]
