"""Table operations through the TopologyTestDriver (the runtime's own task code)."""

from __future__ import annotations

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S, J, I64 = serde.String(), serde.Json(), serde.Int64()


def _app() -> sl.App:
    return sl.App("tables")


def test_table_group_by_moves_rows_between_groups_with_subtractor() -> None:
    app = _app()
    users = app.table("users", name="users", key_serde=S, value_serde=J)
    (
        users.group_by(lambda user, row: row["region"], name="by-region", key_serde=S)
        .count(name="users-per-region")
        .to_stream()
        .to("region-counts", value_serde=I64)
    )
    with TopologyTestDriver(app) as driver:
        pipe = driver.input_topic("users", S, J)
        pipe.pipe("alice", {"region": "eu"})
        pipe.pipe("bob", {"region": "eu"})
        pipe.pipe("alice", {"region": "us"})  # alice moves: eu -1, us +1
        pipe.pipe("bob", None)  # bob leaves: eu -1
        out = driver.output_topic("region-counts", S, I64).read_key_values()
        assert out == [("eu", 1), ("eu", 2), ("eu", 1), ("us", 1), ("eu", 0)]
        store = driver.store("users-per-region")
        assert dict(store.all()) == {"eu": 0, "us": 1}
        assert driver.store("users").get("bob") is None


def test_table_filter_deletes_rows_that_stop_matching() -> None:
    app = _app()
    (
        app.table("prices", name="prices", key_serde=S, value_serde=I64)
        .filter(lambda _k, price: price >= 10)
        .to_stream()
        .to("expensive", value_serde=I64)
    )
    with TopologyTestDriver(app) as driver:
        pipe = driver.input_topic("prices", S, I64)
        pipe.pipe("a", 5)  # never matched: nothing
        pipe.pipe("a", 12)
        pipe.pipe("a", 3)  # stops matching: a delete
        pipe.pipe("b", 20)
        assert driver.output_topic("expensive", S, I64).read_key_values() == [
            ("a", 12),
            ("a", None),
            ("b", 20),
        ]


def test_table_map_values_maps_old_and_new() -> None:
    app = _app()
    (
        app.table("names", name="names", key_serde=S, value_serde=S)
        .map_values(str.upper, value_serde=S)
        .to_stream()
        .to("upper", value_serde=S)
    )
    with TopologyTestDriver(app) as driver:
        driver.input_topic("names", S, S).pipe("k", "ada")
        assert driver.output_topic("upper", S, S).read_key_values() == [("k", "ADA")]


def test_table_group_by_reduce_keeps_a_running_total() -> None:
    app = _app()
    (
        app.table("balances", name="balances", key_serde=S, value_serde=I64)
        .group_by(
            lambda account, amount: account[0], name="by-letter", key_serde=S, value_serde=I64
        )
        .reduce(lambda agg, v: agg + v, lambda agg, v: agg - v, name="totals", value_serde=I64)
        .to_stream()
        .to("totals", value_serde=I64)
    )
    with TopologyTestDriver(app) as driver:
        pipe = driver.input_topic("balances", S, I64)
        pipe.pipe("a1", 10)
        pipe.pipe("a2", 5)
        pipe.pipe("a1", 7)  # a: -10 then +7
        assert driver.output_topic("totals", S, I64).read_key_values() == [
            ("a", 10),
            ("a", 15),
            ("a", 5),
            ("a", 12),
        ]


def test_table_source_drops_null_key_records_counted() -> None:
    app = _app()
    app.table("users", name="users", key_serde=S, value_serde=J).to_stream().to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("users", S, J).pipe_many([(None, {"a": 1}), ("bob", {"a": 2})])
        assert driver.output_topic("out", S, J).read_key_values() == [("bob", {"a": 2})]
        assert driver._tasks[0].dropped == {"table_null_key": 1}
