"""Exactly-once under SIGKILL for a task reading two input partitions: the records it buffers
for event-time order but has not processed are never committed, so every input of both
topics comes out exactly once, in its topic's order, and the committed offsets are the ends."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_order import OrderWorker
from support import (
    FAST_GROUP,
    InputFeeder,
    assert_no_open_transactions,
    by_partition,
    read_all,
    wait_for_progress,
    worker_env,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 2
KILLS = 3


def test_sigkill_keeps_merged_inputs_exactly_once_when_task_buffers_for_event_time(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    left = make_topics("left", partitions=PARTITIONS)
    right = make_topics("right", partitions=PARTITIONS)
    out = make_topics("out", partitions=PARTITIONS)
    app_id = unique("eto-eos")
    env = worker_env(
        bootstrap, app_id, left, out, tmp_path / "state", commit_ms=1500, config=FAST_GROUP
    )
    # right comes in bursts (10 records per 100 ms) and the task waits for it (500 ms), so
    # left's records are usually buffered, fetched but not processed, when a kill lands
    env.update(IN2=right, IDLE_MS="500")
    feeders = [InputFeeder(bootstrap, left, rate=1000), InputFeeder(bootstrap, right, rate=100)]
    for feeder in feeders:
        feeder.start()
    rng = random.Random(12)
    workers: list[OrderWorker] = []
    for i in range(KILLS):
        worker = OrderWorker("merged_echo", env, tmp_path / f"worker-{i}.log")
        workers.append(worker)
        wait_for_progress(bootstrap, out, worker)
        time.sleep(rng.uniform(0.3, 2.5))  # commits every 1.5 s: lands mid-transaction
        assert worker.alive(), worker.output()
        worker.kill()
    sent = {topic: feeder.stop() for topic, feeder in zip((left, right), feeders, strict=True)}
    final = OrderWorker("merged_echo", env, tmp_path / "worker-final.log")
    outputs = read_all(bootstrap, out, expect=sum(sent.values()), timeout=120)
    assert final.terminate() == 0, final.output()

    aborted = sum(1 for _ in read_all(bootstrap, out, committed=False, idle=1.0)) - len(outputs)
    assert aborted > 0, "no kill landed inside an open transaction"
    got = by_partition(outputs)
    for topic in (left, right):
        for partition, records in by_partition(
            read_all(bootstrap, topic, expect=sent[topic])
        ).items():
            expected = [json.loads(m.value or b"")["seq"] for m in records]
            values = [json.loads(m.value or b"") for m in got.get(partition, [])]
            seen = [v["seq"] for v in values if v["src"] == topic]
            assert seen == expected, f"{topic}[{partition}]: output differs from input"
    assert len(outputs) == sum(sent.values())
    assert_no_open_transactions(bootstrap, out)
    admin = Admin(bootstrap)
    for topic in (left, right):
        ends = admin.end_offsets(topic, committed_only=False)
        assert admin.committed_offsets(app_id, topic) == ends, topic
