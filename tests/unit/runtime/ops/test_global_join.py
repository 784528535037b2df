"""Stream-global-table joins through the TopologyTestDriver (Kafka Streams' KStream-
GlobalKTable join): only stream records trigger, the table is looked up under
``key_mapper(key, value)``, table tombstones delete, null keys and values are dropped."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.config import AppConfig, ErrorPolicies, ErrorPolicy
from streamlet.errors import ProcessingError, SerializationError
from streamlet.testing import TopologyTestDriver

S, J = serde.String(), serde.Json()


def _app(*, left: bool = False, key_mapper: Any = None) -> sl.App:
    """Orders ``{"user": id, "n": int}`` enriched with the global table of users (names)."""
    app = sl.App("gj")
    users = app.global_table("users", name="users", key_serde=S, value_serde=S)
    orders = app.stream("orders", S, J)
    join = orders.left_join if left else orders.join
    join(
        users,
        lambda order, name: {"n": order["n"], "name": name},
        key_mapper=key_mapper or (lambda _k, order: order["user"]),
    ).to("out", value_serde=J)
    return app


def _run(
    app: sl.App, steps: list[tuple[str, Any, Any]], config: AppConfig | None = None
) -> list[tuple[Any, Any]]:
    with TopologyTestDriver(app, config) as driver:
        users = driver.input_topic("users", S, S)
        orders = driver.input_topic("orders", S, J)
        for topic, key, value in steps:
            (users if topic == "users" else orders).pipe(key, value)
        return driver.output_topic("out", S, J).read_key_values()


def test_join_enriches_stream_records_with_the_row_under_the_mapped_key() -> None:
    out = _run(
        _app(),
        [
            ("users", "u1", "ann"),
            ("orders", "o1", {"user": "u1", "n": 1}),
            ("orders", "o2", {"user": "u2", "n": 2}),  # no row: an inner join drops it
            ("users", "u2", "bo"),  # a table update triggers nothing
            ("orders", "o3", {"user": "u2", "n": 3}),
        ],
    )
    assert out == [("o1", {"n": 1, "name": "ann"}), ("o3", {"n": 3, "name": "bo"})]


def test_left_join_joins_unmatched_records_with_none() -> None:
    out = _run(
        _app(left=True),
        [
            ("orders", "o1", {"user": "u1", "n": 1}),
            ("users", "u1", "ann"),
            ("orders", "o2", {"user": "u1", "n": 2}),
        ],
    )
    assert out == [("o1", {"n": 1, "name": None}), ("o2", {"n": 2, "name": "ann"})]


@pytest.mark.parametrize("left", [False, True])
def test_join_after_a_table_tombstone_finds_no_row(left: bool) -> None:
    out = _run(
        _app(left=left),
        [
            ("users", "u1", "ann"),
            ("users", "u1", "anna"),
            ("orders", "o1", {"user": "u1", "n": 1}),
            ("users", "u1", None),  # deletes u1
            ("orders", "o2", {"user": "u1", "n": 2}),
        ],
    )
    expected = [("o1", {"n": 1, "name": "anna"})]
    assert out == expected + ([("o2", {"n": 2, "name": None})] if left else [])


def test_join_with_a_none_mapped_key_drops_inner_and_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps: list[tuple[str, Any, Any]] = [
        ("users", "u1", "ann"),
        ("orders", "o1", {"user": None, "n": 1}),
        ("orders", "o2", {"user": "u1", "n": 2}),
    ]
    with caplog.at_level(logging.WARNING, logger="streamlet.joins"):
        inner = _run(_app(), steps)
    assert inner == [("o2", {"n": 2, "name": "ann"})]
    assert "null join key (topic orders, partition 0, offset 0)" in caplog.text
    left = _run(_app(left=True), steps)
    assert left == [("o1", {"n": 1, "name": None}), ("o2", {"n": 2, "name": "ann"})]


@pytest.mark.parametrize("left", [False, True])
def test_join_drops_stream_records_with_a_none_value(
    left: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="streamlet.joins"):
        out = _run(_app(left=left), [("users", "u1", "ann"), ("orders", "o1", None)])
    assert out == []
    assert "null value" in caplog.text


def test_join_of_a_none_stream_key_uses_the_key_mapper() -> None:
    out = _run(_app(), [("users", "u1", "ann"), ("orders", None, {"user": "u1", "n": 1})])
    assert out == [(None, {"n": 1, "name": "ann"})]


def test_join_without_key_mapper_looks_up_the_stream_key() -> None:
    app = sl.App("gj")
    users = app.global_table("users", name="users", key_serde=S, value_serde=S)
    app.stream("orders", S, S).join(users, lambda v, row: f"{v}:{row}").to("out", value_serde=S)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("users", S, S).pipe("u1", "ann")
        driver.input_topic("orders", S, S).pipe("u1", "x")
        assert driver.output_topic("out", S, S).read_key_values() == [("u1", "x:ann")]
        assert driver.store("users").get("u1") == "ann"


def test_join_keeps_the_stream_records_timestamp_and_headers() -> None:
    with TopologyTestDriver(_app()) as driver:
        driver.input_topic("users", S, S).pipe("u1", "ann", timestamp=99)
        driver.input_topic("orders", S, J).pipe(
            "o1", {"user": "u1", "n": 1}, timestamp=7, headers=[("h", b"x")]
        )
        (record,) = driver.output_topic("out", S, J).read_records()
    assert (record.timestamp, record.headers) == (7, (("h", b"x"),))


def test_joiner_error_names_the_join_and_the_record() -> None:
    app = sl.App("gj")
    users = app.global_table("users", name="users", key_serde=S, value_serde=S)
    app.stream("orders", S, S).join(users, lambda v, row: 1 / 0, name="enrich").to("out")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("users", S, S).pipe("u1", "ann")
        with pytest.raises(ProcessingError) as info:
            driver.input_topic("orders", S, S).pipe("u1", "x")
    assert info.value.processor == "enrich"
    assert (info.value.topic, info.value.offset) == ("orders", 0)


def test_global_topic_bad_value_fails_with_its_location() -> None:
    app = sl.App("gj")
    users = app.global_table("users", name="users", key_serde=S, value_serde=J)
    app.stream("orders", S, S).join(users, lambda v, row: row).to("out")
    with TopologyTestDriver(app) as driver:
        users_in = driver.input_topic("users", S, S)
        users_in.pipe("u1", '{"ok": 1}')
        with pytest.raises(SerializationError) as info:
            users_in.pipe("u2", "not json")
    assert (info.value.topic, info.value.partition, info.value.offset) == ("users", 0, 1)
    assert "global table 'users'" in str(info.value)


def test_global_topic_bad_value_is_dead_lettered_by_policy() -> None:
    app = sl.App("gj")
    users = app.global_table("users", name="users", key_serde=S, value_serde=J)
    app.stream("orders", S, S).join(users, lambda v, row: row["ok"]).to("out", value_serde=J)
    config = AppConfig("gj", errors=ErrorPolicies(deserialization=ErrorPolicy.DEAD_LETTER))
    with TopologyTestDriver(app, config) as driver:
        users_in = driver.input_topic("users", S, S)
        users_in.pipe("u1", "not json")
        users_in.pipe("u2", '{"ok": 2}')
        driver.input_topic("orders", S, S).pipe("u1", "x")  # u1 never entered the table
        driver.input_topic("orders", S, S).pipe("u2", "y")
        assert driver.output_topic("out", S, J).read_values() == [2]
        (dead,) = driver.output_topic(config.dead_letter_topic).read_records()
    assert dead.value == b"not json"
    assert dict(dead.headers)["streamlet.source.topic"] == b"users"
