"""``streamlet run --workers 2``: a worker that dies abnormally (SIGKILL) is replaced and the
output stays exactly once; a fatal error a restart cannot cure (a FAIL-policy poison record)
stops the app with the documented status (issue 10, defect 7)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.runtime.exitcodes import EXIT_RECORD_FAILED

from apps import value_json
from support import FAST_GROUP, WorkerProcess, produce, read_all, worker_env

pytestmark = pytest.mark.chaos

_ASSIGNED = re.compile(r"\[(\d+)\] streamlet\.runtime\.worker: assigned t-in")


def assigned_pids(sup: WorkerProcess, count: int, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        pids = list(dict.fromkeys(int(p) for p in _ASSIGNED.findall(sup.output())))
        if len(pids) >= count:
            return pids
        assert sup.alive(), sup.output()
        assert time.monotonic() < deadline, sup.output()
        time.sleep(0.1)


def test_sigkilled_worker_is_replaced_and_output_stays_exactly_once(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=2), make_topics("out", partitions=2)
    env = worker_env(
        bootstrap, unique("restart"), src, out, tmp_path / "state", commit_ms=200, config=FAST_GROUP
    )
    sup = WorkerProcess("echo", env, tmp_path / "app.log", "--workers", "2")
    victim, _ = assigned_pids(sup, 2)
    produce(bootstrap, src, [(f"k{i}".encode(), value_json(i)) for i in range(300)])
    os.kill(victim, signal.SIGKILL)
    produce(bootstrap, src, [(f"k{i}".encode(), value_json(i)) for i in range(300, 600)])
    assigned_pids(sup, 3)  # the replacement joined the group
    outputs = read_all(bootstrap, out, expect=600, timeout=120)
    assert sup.alive(), sup.output()
    assert sup.terminate() == 0, sup.output()
    seqs = sorted(json.loads(m.value or b"")["seq"] for m in outputs)
    assert seqs == list(range(600)), "each input exactly once"
    assert "restarting" in sup.output()


def test_fail_policy_poison_record_stops_the_app_with_its_status(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=2), make_topics("out", partitions=2)
    produce(bootstrap, src, [(f"k{i}".encode(), value_json(i)) for i in range(50)])
    env = worker_env(
        bootstrap,
        unique("poison"),
        src,
        out,
        tmp_path / "state",
        commit_ms=200,
        config=FAST_GROUP,
        FAIL_ON="7",
    )
    sup = WorkerProcess("failing", env, tmp_path / "app.log", "--workers", "2")
    assert sup.wait(90) == EXIT_RECORD_FAILED, sup.output()
    assert "ProcessingError" in sup.output() and "restarting" not in sup.output()
