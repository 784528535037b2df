"""A stream-stream outer join end to end through a worker on the real broker, and the
co-partitioning check at start.

The inputs are produced before the worker starts, so it reads a backlog of both topics in
fetch order, not event-time order: the grace (10 min) is larger than the inputs' whole time
span, so no record is late whatever the order, and the result is the order-free one of
``join_expect``. Unmatched records come out once closing records (one per partition,
produced after the worker consumed everything) move stream time past every window.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from apps_join import Rec, expected_outer, show
from support import assert_no_open_transactions, key_for_partition, produce, read_all

pytestmark = pytest.mark.integration

S = serde.String()
PARTITIONS = 2
DIFF_MS, GRACE_MS = 1_500, 600_000


def _app(app_id: str, left: str, right: str, out: str, state: Path, bootstrap: str) -> sl.App:
    app = sl.App(app_id, bootstrap_servers=bootstrap, commit_interval_ms=100, state_dir=state)
    a = app.stream(left, key_serde=S, value_serde=S)
    b = app.stream(right, key_serde=S, value_serde=S)
    joined = a.outer_join(b, show, windows=sl.JoinWindows(DIFF_MS, grace_ms=GRACE_MS), name="j")
    joined.to(out, value_serde=S)
    return app


def _wait_consumed(bootstrap: str, app_id: str, topics: list[str]) -> None:
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 60
    for topic in topics:
        ends = admin.end_offsets(topic, committed_only=True)
        while admin.committed_offsets(app_id, topic) != ends:
            assert time.monotonic() < deadline, f"{topic} not consumed: {ends}"
            time.sleep(0.1)


def test_outer_join_through_a_worker_matches_the_expected_pairs_and_unmatched(
    bootstrap: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    admin = Admin(bootstrap)
    left, right, out = (f"sj-{t}-{tag}" for t in ("left", "right", "out"))
    for topic in (left, right, out):
        admin.ensure_topic(topic, PARTITIONS, {})
    base = int(time.time() * 1000) - 10 * 60_000
    lefts: list[Rec] = [(f"k{i % 6}", f"L{i}", base + i * 1_000) for i in range(30)]
    rights: list[Rec] = [(f"k{i % 6}", f"R{i}", base + i * 1_300 + 400) for i in range(25)]
    for topic, rows in ((left, lefts), (right, rights)):
        produce(
            bootstrap,
            topic,
            [(k.encode(), v.encode()) for k, v, _ in rows],
            timestamps=[ts for _, _, ts in rows],
        )
    want = expected_outer(lefts, rights, DIFF_MS)
    assert any("null" in v for _, v, _ in want) and any("null" not in v for _, v, _ in want)
    app_id = f"sj-{tag}"
    app = _app(app_id, left, right, out, tmp_path / "state", bootstrap)
    app.start()
    try:
        assert app.wait_until_running(60)
        _wait_consumed(bootstrap, app_id, [left, right])
        closers = [key_for_partition(p, PARTITIONS, prefix="closer") for p in range(PARTITIONS)]
        produce(
            bootstrap,
            left,
            [(k, b"end") for k in closers],
            timestamps=[base + 3 * GRACE_MS] * PARTITIONS,
        )
        msgs = read_all(bootstrap, out, expect=sum(want.values()))
    finally:
        app.stop()
    got = Counter(
        (S.deserialize(out, m.key), S.deserialize(out, m.value), m.timestamp) for m in msgs
    )
    assert got == want
    assert_no_open_transactions(bootstrap, out)
    config = admin.topic_config(f"{app_id}-j-outer-store-changelog")
    assert config["cleanup.policy"] == "compact,delete"


def test_join_of_topics_with_different_partition_counts_is_refused_at_start(
    bootstrap: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    admin = Admin(bootstrap)
    left, right, out = (f"sj-{t}-{tag}" for t in ("left", "right", "out"))
    admin.ensure_topic(left, 2, {})
    admin.ensure_topic(right, 3, {})
    admin.ensure_topic(out, 2, {})
    app = _app(f"sj-{tag}", left, right, out, tmp_path / "state", bootstrap)
    app.start()
    with pytest.raises(sl.TopologyError, match=f"{left}=2, {right}=3"):
        app.stop()
