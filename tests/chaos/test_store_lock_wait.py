"""``--workers 2`` on one state dir: a worker stalled (SIGSTOP) past the session timeout
still holds its stores' locks when its tasks move to the sibling; the sibling waits for the
locks (with backoff) instead of dying, and no worker dies (issue 10, defect 4)."""

from __future__ import annotations

import os
import re
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_state import StateWorker
from support import FAST_GROUP, WorkerProcess, produce, read_all, worker_env

pytestmark = pytest.mark.chaos

PARTITIONS = 4
KEYS = 8


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


def worker_pids(sup: WorkerProcess, count: int, timeout: float = 60.0) -> list[int]:
    """The pids of the workers that logged an assignment of input partitions."""
    deadline = time.monotonic() + timeout
    while True:
        pids = sorted(
            {
                int(p)
                for p in re.findall(
                    r"\[(\d+)\] streamlet\.runtime\.worker: assigned t-in", sup.output()
                )
            }
        )
        if len(pids) >= count:
            return pids
        assert sup.alive(), sup.output()
        assert time.monotonic() < deadline, sup.output()
        time.sleep(0.1)


def feed(bootstrap: str, src: str, start: int, n: int) -> None:
    produce(
        bootstrap,
        src,
        [(f"k{i % KEYS}".encode(), b'{"value": 1}') for i in range(start, start + n)],
    )


def test_stalled_sibling_holding_store_locks_kills_no_worker(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src = make_topics("in", partitions=PARTITIONS)
    out = unique("out")
    admin = Admin(bootstrap)
    for suffix in ("counts", "sums"):
        admin.ensure_topic(f"{out}-{suffix}", PARTITIONS, {})
    app_id = unique("locks")
    for store in ("counts", "sums"):  # two workers racing to create them: not this test
        admin.ensure_topic(f"{app_id}-{store}-changelog", PARTITIONS, {"cleanup.policy": "compact"})
    env = worker_env(
        bootstrap, app_id, src, out, tmp_path / "state", commit_ms=200, config=FAST_GROUP
    )
    sup = StateWorker("count_sum", env, tmp_path / "app.log", "--workers", "2")
    first, _ = worker_pids(sup, 2)
    feed(bootstrap, src, 0, 200)
    read_all(bootstrap, f"{out}-counts", expect=200, timeout=60)

    os.kill(first, signal.SIGSTOP)
    try:
        feed(bootstrap, src, 200, 200)
        deadline = time.monotonic() + 60
        while "waiting for its lock" not in sup.output():  # the sibling took its tasks
            assert sup.alive(), sup.output()
            assert time.monotonic() < deadline, sup.output()
            time.sleep(0.2)
    finally:
        os.kill(first, signal.SIGCONT)
    feed(bootstrap, src, 400, 200)
    counts = read_all(bootstrap, f"{out}-counts", expect=600, timeout=120)
    assert sup.alive(), sup.output()
    assert "exited with" not in sup.output(), sup.output()
    assert sup.terminate() == 0, sup.output()
    per_key: dict[bytes, list[int]] = defaultdict(list)
    for m in sorted(counts, key=lambda m: (m.partition, m.offset)):
        per_key[m.key or b""].append(_i64(m.value))
    expected = list(range(1, 600 // KEYS + 1))
    assert dict(per_key) == {f"k{i}".encode(): expected for i in range(KEYS)}
