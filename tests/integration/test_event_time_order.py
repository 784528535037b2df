"""A task reading two topics processes their records in event-time order on the broker
(``max_task_idle_ms``): over two pre-filled topics whose timestamps interleave, and while
waiting for a partition whose records arrive late; what it commits is what it processed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from support import produce

pytestmark = pytest.mark.integration

N = 60  # records per topic and partition
BASE_TS = int(time.time() * 1000) // 1000 * 1000  # near now: never past retention


def _app(
    bootstrap: str, state_dir: Path, left: str, right: str, idle_ms: int
) -> tuple[sl.App, list[tuple[int, str, int]]]:
    """``left.merge(right)`` (one sub-topology: partition p of both in one task) recording
    ``(partition, topic, timestamp)`` in processing order."""
    app = sl.App(
        f"eto-{uuid.uuid4().hex[:8]}",
        bootstrap_servers=bootstrap,
        commit_interval_ms=100,
        state_dir=state_dir,
        max_task_idle_ms=idle_ms,
    )
    seen: list[tuple[int, str, int]] = []
    lock = threading.Lock()

    def watch(record: sl.Record, ctx: sl.ProcessorContext) -> None:
        assert record.partition is not None and record.topic is not None
        with lock:
            seen.append((record.partition, record.topic, record.timestamp))

    s = app.stream(left, serde.String(), serde.String())
    s.merge(app.stream(right, serde.String(), serde.String())).process(watch, name="watch")
    return app, seen


def _fill(bootstrap: str, topic: str, partition: int, stamps: list[int]) -> None:
    produce(
        bootstrap,
        topic,
        [(b"k", f"{topic}-{ts}".encode()) for ts in stamps],
        partition=partition,
        timestamps=[BASE_TS + ts for ts in stamps],
    )


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _topics(admin: Admin, partitions: int) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    left, right = f"eto-left-{tag}", f"eto-right-{tag}"
    admin.ensure_topic(left, partitions, {})
    admin.ensure_topic(right, partitions, {})
    return left, right


def test_worker_processes_in_event_time_order_when_prefilled_topics_interleave(
    bootstrap: str, tmp_path: Path
) -> None:
    admin = Admin(bootstrap)
    left, right = _topics(admin, 2)
    for p in range(2):  # left even, right odd timestamps: a fetch-order run would not interleave
        _fill(bootstrap, left, p, [2 * i for i in range(N)])
        _fill(bootstrap, right, p, [2 * i + 1 for i in range(N)])
    app, seen = _app(bootstrap, tmp_path, left, right, idle_ms=0)
    app.start()
    try:
        _wait(lambda: len(seen) >= 4 * N, f"{4 * N} records processed")
    finally:
        app.stop()
    for p in range(2):
        order = [(topic, ts - BASE_TS) for part, topic, ts in seen if part == p]
        assert [ts for _, ts in order] == list(range(2 * N)), f"partition {p}: {order[:20]}"
        assert {t for t, ts in order if ts % 2 == 0} == {left}


def _enforced(task_id: str) -> float:
    # per task id: the same ids recur across apps in one process, so compare before and after
    sample = REGISTRY.get_sample_value("streamlet_enforced_processing_total", {"task": task_id})
    return sample or 0.0


def test_worker_waits_for_late_partition_when_idle_is_positive(
    bootstrap: str, tmp_path: Path
) -> None:
    admin = Admin(bootstrap)
    left, right = _topics(admin, 1)
    _fill(bootstrap, left, 0, [2 * i for i in range(1, N + 1)])  # 2, 4, .., 2N
    app, seen = _app(bootstrap, tmp_path, left, right, idle_ms=60_000)
    app.start()
    try:
        assert app.wait_until_running(60)
        task_id = f"{app.topology().subtopologies[0].id}_0"
        enforced = _enforced(task_id)

        def left_buffered_right_at_end() -> bool:
            task = app._worker._tasks.get(task_id)
            group = task.inputs if task is not None else None
            return group is not None and len(group) == N and right in group._at_end

        _wait(left_buffered_right_at_end, "left fetched and right seen empty at its end")
        time.sleep(0.3)  # a few loop iterations of waiting: still nothing may be processed
        assert seen == []
        _fill(bootstrap, right, 0, [2 * i - 1 for i in range(1, N + 1)])  # 1, 3, .., 2N-1
        # left's last record (2N) waits again: right is empty and at its end
        _wait(lambda: len(seen) >= 2 * N - 1, f"{2 * N - 1} records processed")
        time.sleep(0.3)
        assert [ts - BASE_TS for _, _, ts in seen] == list(range(1, 2 * N))
        assert _enforced(task_id) == enforced  # it waited; it never gave up waiting
        group_id = app.application_id
        # what commits is what was processed: left's last record is fetched, not processed
        _wait(
            lambda: (
                admin.committed_offsets(group_id, left).get(0) == N - 1
                and admin.committed_offsets(group_id, right).get(0) == N
            ),
            "the processed offsets committed",
        )
    finally:
        app.stop()
    assert admin.committed_offsets(group_id, left) == {0: N - 1}  # the buffered one is re-read
