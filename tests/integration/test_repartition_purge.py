"""Repartition topics on the broker: kept regardless of event time, deleted once committed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from support import produce, read_all

pytestmark = pytest.mark.integration

N = 200
OLD_TS = 1_000_000_000_000  # 2001: far past the broker's default 7-day retention


def _low_watermarks(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"wm-{uuid.uuid4().hex}"})
    try:
        return {
            p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0]
            for p in range(partitions)
        }
    finally:
        c.close()


def test_repartition_keeps_old_events_and_deletes_committed_records(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    keep = {"retention.ms": "-1"}  # the user's own topics: else the broker expires 2001
    src = make_topics("purge-in", partitions=2, config=keep)
    out = make_topics("purge-out", partitions=2, config=keep)
    app_id = unique("purge")
    admin = Admin(bootstrap)
    app = sl.App(
        app_id,
        bootstrap_servers=bootstrap,
        commit_interval_ms=100,
        state_dir=tmp_path,
        repartition_purge_interval_ms=0,
    )
    (
        app.stream(src, key_serde=serde.String(), value_serde=serde.Json())
        .select_key(lambda k, v: f"g{v['n'] % 5}")
        .repartition("moved", key_serde=serde.String())
        .to(out, key_serde=serde.String())
    )
    repartition = f"{app_id}-moved-repartition"
    produce(
        bootstrap,
        src,
        [(f"k{i}".encode(), json.dumps({"n": i}).encode()) for i in range(N)],
        timestamps=[OLD_TS + i for i in range(N)],
    )
    app.start()
    try:
        assert app.wait_until_running(60)
        got = read_all(bootstrap, out, expect=N)
        assert sorted(json.loads(m.value or b"")["n"] for m in got) == list(range(N))
        assert {m.timestamp for m in got} == {OLD_TS + i for i in range(N)}

        config = admin.topic_config(repartition)
        assert config["retention.ms"] == "-1" and config["cleanup.policy"] == "delete"

        # every record was consumed and committed: the purge moves each log start offset up
        # to the group's committed offset (never past it: nothing unread is deleted)
        deadline = time.monotonic() + 30
        while True:
            committed = admin.committed_offsets(app_id, repartition)
            low = _low_watermarks(bootstrap, repartition, 2)
            if len(committed) == 2 and low == committed:
                break
            assert all(low[p] <= committed.get(p, 0) for p in low), (low, committed)
            assert time.monotonic() < deadline, f"not purged: low {low}, committed {committed}"
            time.sleep(0.2)
        assert sum(low.values()) >= N  # the records (plus transaction markers) are gone
    finally:
        app.stop()
