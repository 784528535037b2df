"""A transaction that outlives transaction.timeout.ms is aborted by its coordinator, which
then fences the producer (a new epoch). That is no twin: the worker re-creates its producer
and resumes from the committed offsets, and the output stays exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from apps import value_json
from support import (
    FAST_GROUP,
    WorkerProcess,
    assert_no_open_transactions,
    by_partition,
    produce,
    read_all,
    wait_for_committed,
    worker_env,
)

pytestmark = pytest.mark.chaos


def test_fence_after_a_coordinator_timeout_abort_resumes(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    src, out, app_id = make_topics("in"), make_topics("out"), unique("txn-timeout")
    n, stall_at = 400, 200
    produce(bootstrap, src, [(b"k", value_json(i)) for i in range(n)])
    # the stall keeps the transaction open 3x its timeout, within max.poll.interval.ms
    config = FAST_GROUP + ",transaction.timeout.ms=3000,max.poll.interval.ms=60000"
    env = worker_env(
        bootstrap,
        app_id,
        src,
        out,
        tmp_path,
        commit_ms=200,
        config=config,
        STALL_ON=str(stall_at),
        STALL_S="9",
        STALL_ONCE="1",
    )
    worker = WorkerProcess("echo", env, tmp_path / "worker.log")
    wait_for_committed(bootstrap, app_id, src, n, worker)
    outputs = read_all(bootstrap, out, expect=n, timeout=60)
    assert worker.terminate() == 0, worker.output()
    assert "the coordinator aborted it; re-creating the producer" in worker.output()
    values = [json.loads(m.value or b"")["seq"] for m in by_partition(outputs)[0]]
    assert values == list(range(n))
    assert_no_open_transactions(bootstrap, out)
