"""Rebalances under exactly-once: two workers run, a third joins, one leaves gracefully,
all while input flows; every input is in the output exactly once, in order."""

from __future__ import annotations

import json
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
    wait_logged,
)
from test_eos_sigkill import _env

pytestmark = pytest.mark.chaos

ASSIGNED = "streamlet.runtime.worker: assigned "
ASSIGNED_INPUT = ASSIGNED + "t-in"


def test_join_and_graceful_leave_keep_exactly_once(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=4), make_topics("out", partitions=4)
    app_id = unique("rebalance")

    def env(name: str) -> dict[str, str]:
        return _env(bootstrap, app_id, src, out, tmp_path / name, "exactly_once_v2", 500)

    feeder = InputFeeder(bootstrap, src, rate=2000)
    feeder.start()
    a = WorkerProcess("echo", env("a"), tmp_path / "a.log")
    b = WorkerProcess("echo", env("b"), tmp_path / "b.log")
    for worker in (a, b):  # both own partitions and work
        wait_logged(worker, ASSIGNED_INPUT)
    wait_for_progress(bootstrap, out, a)
    c = WorkerProcess("echo", env("c"), tmp_path / "c.log")  # joins mid-stream
    wait_logged(c, ASSIGNED_INPUT)  # the join's rebalance is over
    wait_for_progress(bootstrap, out, c)  # and the three of them work
    seen = {w: w.output().count(ASSIGNED) for w in (b, c)}
    assert a.terminate() == 0, a.output()  # leaves gracefully mid-stream
    for worker, before in seen.items():  # the leave's rebalance is over
        wait_logged(worker, ASSIGNED, before + 1)
    wait_for_progress(bootstrap, out, b)  # and the two left work
    sent = feeder.stop()
    outputs = read_all(bootstrap, out, expect=sent, timeout=120)
    assert b.terminate() == 0, b.output()
    assert c.terminate() == 0, c.output()

    for name, worker in (("b", b), ("c", c)):
        assert "assigned t-in" in worker.output(), f"worker {name} never got partitions"
    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    got = by_partition(outputs)
    for partition, records in inputs.items():
        expected = [json.loads(m.value or b"")["seq"] for m in records]
        assert [json.loads(m.value or b"")["seq"] for m in got[partition]] == expected
    assert len(outputs) == sent
    assert_no_open_transactions(bootstrap, out)
