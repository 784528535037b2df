"""The TopologyTestDriver with a record cache: each pipe is a commit, so a pipe's output
is the newest update of each key it changed (as Kafka Streams' driver with caching)."""

from __future__ import annotations

from typing import Any

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S, J, I64 = serde.String(), serde.Json(), serde.Int64()


def _doubled_count(cache_max_bytes: int) -> sl.App:
    """Each input counts twice under its key (flat_map_values emits it twice)."""
    app = sl.App("dbl", cache_max_bytes=cache_max_bytes)
    (
        app.stream("in", S, J)
        .flat_map_values(lambda v: [v, v])
        .group_by_key()
        .count(name="counts")
        .to_stream()
        .to("out", value_serde=I64)
    )
    return app


def _pipe_all(app: sl.App, records: list[tuple[str, Any]]) -> list[tuple[str, int]]:
    with TopologyTestDriver(app) as driver:
        source = driver.input_topic("in", S, J)
        for key, value in records:
            source.pipe(key, value)
        return driver.output_topic("out", S, I64).read_key_values()


def test_pipe_with_cache_forwards_only_newest_update_per_key() -> None:
    records = [("a", 1), ("b", 1), ("a", 1)]
    assert _pipe_all(_doubled_count(0), records) == [
        ("a", 1), ("a", 2), ("b", 1), ("b", 2), ("a", 3), ("a", 4)
    ]  # fmt: skip
    assert _pipe_all(_doubled_count(1 << 20), records) == [("a", 2), ("b", 2), ("a", 4)]


def test_pipe_with_cache_keeps_changelog_and_store_in_step() -> None:
    with TopologyTestDriver(_doubled_count(1 << 20)) as driver:
        driver.input_topic("in", S, J).pipe("a", 1)
        driver.input_topic("in", S, J).pipe("a", 1)
        assert driver.store("counts").get("a") == 4
        changelog = driver.output_topic("dbl-counts-changelog", S, I64).read_key_values()
        assert changelog == [("a", 2), ("a", 4)]


def test_pipe_with_cache_flushes_through_repartition_to_downstream_cache() -> None:
    app = sl.App("two", cache_max_bytes=1 << 20)
    (
        app.stream("in", S, J)
        .group_by_key()
        .count(name="per-key")
        .to_stream()
        .group_by(lambda _k, _v: "all", "everything", key_serde=S, value_serde=I64)
        .count(name="updates")
        .to_stream()
        .to("out", value_serde=I64)
    )
    assert _pipe_all(app, [("a", 1), ("b", 1), ("a", 1)]) == [("all", 1), ("all", 2), ("all", 3)]


def test_table_regroup_within_same_group_with_cache_forwards_one_change() -> None:
    def app(cache_max_bytes: int) -> sl.App:
        a = sl.App("regroup", cache_max_bytes=cache_max_bytes)
        (
            a.table("users", name="users", key_serde=S, value_serde=S)
            .group_by(lambda _user, region: region, "by-region", key_serde=S, value_serde=S)
            .count(name="per-region")
            .to_stream()
            .to("out", value_serde=I64)
        )
        return a

    def run(cache_max_bytes: int) -> list[tuple[str, int]]:
        with TopologyTestDriver(app(cache_max_bytes)) as driver:
            users = driver.input_topic("users", S, S)
            users.pipe("u1", "eu")
            users.pipe("u1", "eu")  # the row leaves and re-enters its group
            users.pipe("u1", "us")
            return driver.output_topic("out", S, I64).read_key_values()

    assert run(0) == [("eu", 1), ("eu", 0), ("eu", 1), ("eu", 0), ("us", 1)]
    assert run(1 << 20) == [("eu", 1), ("eu", 1), ("eu", 0), ("us", 1)]


def test_store_read_by_another_processor_sees_cached_newest_value() -> None:
    """A join or a processor reading a cached node's store reads the newest value, not the
    one forwarded last (Kafka Streams reads through its cache too)."""
    app = sl.App("reads", cache_max_bytes=1 << 20)
    words = app.stream("in", S, J)
    words.flat_map_values(lambda v: [v, v]).group_by_key().count(name="counts")

    def read(record: sl.Record, ctx: Any) -> None:
        ctx.forward(record.with_value(ctx.store("counts").get(record.key)))

    words.process(read, stores=["counts"]).to("seen", value_serde=I64)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("in", S, J).pipe("a", 1)
        driver.input_topic("in", S, J).pipe("a", 1)
        assert driver.output_topic("seen", S, I64).read_values() == [2, 4]
