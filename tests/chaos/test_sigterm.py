"""SIGTERM while input flows: the worker finishes its batch, commits, leaves the group and
exits 0 within a few commit intervals; the restart duplicates nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support import (
    InputFeeder,
    WorkerProcess,
    assert_no_open_transactions,
    by_partition,
    read_all,
    wait_for_progress,
)
from test_eos_sigkill import PARTITIONS, _env

pytestmark = pytest.mark.chaos

COMMIT_MS = 500


def test_sigterm_commits_and_exits_cleanly(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src = make_topics("in", partitions=PARTITIONS)
    out = make_topics("out", partitions=PARTITIONS)
    env = _env(
        bootstrap,
        unique("term"),
        src,
        out,
        tmp_path / "state",
        "exactly_once_v2",
        commit_ms=COMMIT_MS,
    )
    feeder = InputFeeder(bootstrap, src, rate=2000)
    feeder.start()
    stop_times = []
    for i in range(3):
        worker = WorkerProcess("echo", env, tmp_path / f"worker-{i}.log")
        wait_for_progress(bootstrap, out, worker)
        time.sleep(1.0)
        started = time.monotonic()
        assert worker.terminate(timeout=30) == 0, worker.output()
        stop_times.append(time.monotonic() - started)
    sent = feeder.stop()
    final = WorkerProcess("echo", env, tmp_path / "worker-final.log")
    outputs = read_all(bootstrap, out, expect=sent, timeout=120)
    assert final.terminate() == 0, final.output()
    print(f"\nSIGTERM to exit: {', '.join(f'{s:.2f} s' for s in stop_times)}")
    assert max(stop_times) < 10 * COMMIT_MS / 1000 + 3, "shutdown took too long"

    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    got = by_partition(outputs)
    for partition, records in inputs.items():
        expected = [json.loads(m.value or b"")["seq"] for m in records]
        assert [json.loads(m.value or b"")["seq"] for m in got[partition]] == expected
    # a graceful stop commits; nothing was aborted, so even read_uncommitted sees no extras
    assert len(read_all(bootstrap, out, committed=False, expect=sent)) == sent
    assert_no_open_transactions(bootstrap, out)
