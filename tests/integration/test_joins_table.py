"""The stream-table and table-table joins end to end through a worker on the real broker,
on two-partition topics: a stream record meets the table row its task holds (a deleted row
joins as None), and a table-table outer join converges to the join of the final rows,
materialized in its changelogged store."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from support import produce

pytestmark = pytest.mark.integration

S, J = serde.String(), serde.Json()
PARTITIONS = 2


class _Latest:
    """The latest committed value per key of a topic, read as it grows."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.values: dict[str, Any] = {}
        self.count = 0
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])

    def wait(self, done: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.values):
            assert time.monotonic() < deadline, f"{self.topic}: still {self.values}"
            for m in self._consumer.consume(num_messages=500, timeout=0.2):
                assert m.error() is None, m.error()
                value = m.value()
                self.values[m.key().decode()] = None if value is None else json.loads(value)
                self.count += 1

    def close(self) -> None:
        self._consumer.close()


def _send(
    bootstrap: str, topic: str, rows: list[tuple[str, Any]], partition: int | None = None
) -> None:
    produce(
        bootstrap,
        topic,
        [(k.encode(), None if v is None else json.dumps(v).encode()) for k, v in rows],
        partition,
    )


@pytest.fixture(scope="module")
def topics(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    admin = Admin(bootstrap)
    names = {n: f"joins-{n}-{tag}" for n in ("views", "users", "left", "right", "st", "tt")}
    for topic in names.values():
        admin.ensure_topic(topic, PARTITIONS, {})
    # clicks are keyed by click id, on more partitions than the users table
    names["clicks"], names["clicks-out"] = f"joins-clicks-{tag}", f"joins-clicks-out-{tag}"
    admin.ensure_topic(names["clicks"], PARTITIONS + 1, {})
    admin.ensure_topic(names["clicks-out"], PARTITIONS, {})
    app_id = f"joins-{tag}"
    app = sl.App(
        app_id,
        bootstrap_servers=bootstrap,
        commit_interval_ms=100,
        state_dir=tmp_path_factory.mktemp("state"),
    )
    views = app.stream(names["views"], key_serde=S, value_serde=J)
    users = app.table(names["users"], name="users", key_serde=S, value_serde=J)
    views.left_join(users, lambda v, u: [v, u], name="enrich").to(names["st"], value_serde=J)
    clicks = app.stream(names["clicks"], key_serde=S, value_serde=J)
    by_user = clicks.select_key(lambda _k, user: user).repartition("clicks-by-user", key_serde=S)
    by_user.join(users, lambda user, name: name).to(names["clicks-out"], value_serde=J)
    left = app.table(names["left"], name="left", key_serde=S, value_serde=J)
    right = app.table(names["right"], name="right", key_serde=S, value_serde=J)
    joined = left.outer_join(right, lambda lv, rv: [lv, rv], name="both")
    joined.to_stream().to(names["tt"], value_serde=J)
    app.start()
    try:
        assert app.wait_until_running(60)
        yield names | {
            "users-changelog": f"{app_id}-users-changelog",
            "both-changelog": f"{app_id}-both-changelog",
            "clicks-by-user": f"{app_id}-clicks-by-user-repartition",
        }
    finally:
        app.stop()


def test_stream_records_join_the_table_rows_of_their_task(
    bootstrap: str, topics: dict[str, str]
) -> None:
    table = _Latest(bootstrap, topics["users-changelog"])
    out = _Latest(bootstrap, topics["st"])
    try:
        _send(bootstrap, topics["users"], [(f"u{i}", f"name{i}") for i in range(4)])
        table.wait(lambda rows: {f"u{i}" for i in range(4)} <= rows.keys())  # in the stores
        _send(bootstrap, topics["views"], [(f"u{i}", f"view{i}") for i in (0, 1, 2, 3, 9)])
        out.wait(lambda got: len(got) == 5)
        assert out.values == {
            **{f"u{i}": [f"view{i}", f"name{i}"] for i in range(4)},
            "u9": ["view9", None],
        }
        _send(bootstrap, topics["users"], [("u1", None), ("u2", "renamed")])
        table.wait(lambda rows: rows.get("u1", 1) is None and rows.get("u2") == "renamed")
        before = out.count
        _send(bootstrap, topics["views"], [("u1", "again1"), ("u2", "again2")])
        out.wait(lambda got: got["u1"] == ["again1", None] and got["u2"] == ["again2", "renamed"])
        assert out.count == before + 2  # table updates emitted nothing
    finally:
        table.close()
        out.close()


def test_table_outer_join_converges_to_join_of_final_rows(
    bootstrap: str, topics: dict[str, str]
) -> None:
    want = {"k0": [None, "r0"], "k1": ["l1", None], "k2": ["l2", "r2"], "k3": ["l3", None]}
    out = _Latest(bootstrap, topics["tt"])
    stored = _Latest(bootstrap, topics["both-changelog"])
    try:
        _send(bootstrap, topics["left"], [(f"k{i}", f"l{i}") for i in range(4)] + [("k0", None)])
        _send(bootstrap, topics["right"], [(f"k{i}", f"r{i}") for i in range(3)] + [("k1", None)])
        # a last row on each partition of both sides: once each has joined, every row
        # before it on that partition was processed
        ends = {f"end{p}": ["x", "x"] for p in range(PARTITIONS)}
        for p in range(PARTITIONS):
            for side in ("left", "right"):
                _send(bootstrap, topics[side], [(f"end{p}", "x")], partition=p)
        out.wait(lambda got: all(got.get(k) == v for k, v in ends.items()))
        assert out.values == want | ends
        stored.wait(lambda rows: rows == want | ends)
    finally:
        out.close()
        stored.close()


def test_join_after_key_change_reads_a_repartition_topic_sized_like_the_table(
    bootstrap: str, topics: dict[str, str]
) -> None:
    info = Admin(bootstrap).describe([topics["clicks-by-user"]])[topics["clicks-by-user"]]
    assert info is not None and info.partitions == PARTITIONS  # the table's, not the clicks'
    table = _Latest(bootstrap, topics["users-changelog"])
    out = _Latest(bootstrap, topics["clicks-out"])
    try:
        users = {f"c{i}": f"user{i}" for i in range(6)}  # on both partitions
        _send(bootstrap, topics["users"], list(users.items()))
        table.wait(lambda rows: users.keys() <= rows.keys())
        _send(bootstrap, topics["clicks"], [(f"click-{user}", user) for user in users])
        out.wait(lambda got: len(got) == len(users))
        assert out.values == users
    finally:
        table.close()
        out.close()
