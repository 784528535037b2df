"""The foreign-key table join end to end through a worker on the real broker, with the left
table on three partitions and the right one on two (no co-partitioning: the subscription
topic is sized like the right table, the response topic like the left one): the result
follows foreign-key changes, left and right deletes, and None foreign keys."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from support import produce, read_all

pytestmark = pytest.mark.integration

S, J = serde.String(), serde.Json()


def _send(bootstrap: str, topic: str, rows: list[tuple[str, Any]]) -> None:
    produce(
        bootstrap,
        topic,
        [(k.encode(), None if v is None else json.dumps(v).encode()) for k, v in rows],
    )


def _latest(
    bootstrap: str, topic: str, want: dict[str, Any], timeout: float = 60
) -> dict[str, Any]:
    """The latest committed value per key of ``topic`` (None: deleted), once it is ``want``."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = {}
        for m in sorted(
            read_all(bootstrap, topic, idle=0.5), key=lambda m: (m.partition, m.offset)
        ):
            got[(m.key or b"").decode()] = None if m.value is None else json.loads(m.value)
        rows = {k: v for k, v in got.items() if v is not None}
        if rows == want or time.monotonic() > deadline:
            return rows


def test_foreign_key_join_across_partition_counts(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    orders, customers = (
        make_topics("fk-orders", partitions=3),
        make_topics("fk-customers", partitions=2),
    )
    out = make_topics("fk-out", partitions=3)
    app_id = unique("fk")
    app = sl.App(app_id, bootstrap_servers=bootstrap, commit_interval_ms=100, state_dir=tmp_path)
    left = app.table(orders, name="orders", key_serde=S, value_serde=J)
    right = app.table(customers, name="customers", key_serde=S, value_serde=J)
    joined = left.left_join(
        right, lambda o, c: [o["n"], c], foreign_key=lambda o: o["customer"], name="enrich"
    )
    joined.to_stream().to(out, value_serde=J)
    app.start()
    try:
        assert app.wait_until_running(60)
        admin = Admin(bootstrap)
        sizes = admin.describe(
            [
                f"{app_id}-enrich-subscription-registration-topic",
                f"{app_id}-enrich-subscription-response-topic",
            ]
        )
        assert [info.partitions for info in sizes.values() if info] == [2, 3]
        _send(bootstrap, customers, [(f"c{i}", f"name{i}") for i in range(6)])
        _send(bootstrap, orders, [(f"o{i}", {"customer": f"c{i % 6}", "n": i}) for i in range(12)])
        want = {f"o{i}": [i, f"name{i % 6}"] for i in range(12)}
        assert _latest(bootstrap, out, want) == want
        # move o0 to c1, give o1 no customer, delete o2 and customer c3, rename c4
        _send(
            bootstrap,
            orders,
            [("o0", {"customer": "c1", "n": 0}), ("o1", {"customer": None, "n": 1}), ("o2", None)],
        )
        _send(bootstrap, customers, [("c3", None), ("c4", "renamed")])
        want = {
            **want,
            "o0": [0, "name1"],
            "o1": [1, None],
            "o3": [3, None],
            "o9": [9, None],
            "o4": [4, "renamed"],
            "o10": [10, "renamed"],
        }
        del want["o2"]
        assert _latest(bootstrap, out, want) == want
    finally:
        app.stop()
