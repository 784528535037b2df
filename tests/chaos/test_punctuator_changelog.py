"""Store writes made by a wall-clock punctuator while no input arrives are committed (with
their changelog records) within the commit interval, so a SIGKILL followed by a restart on
a wiped state dir restores them (issue 10, defect 1)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_core import CoreWorker
from support import FAST_GROUP, produce, read_all, worker_env

pytestmark = pytest.mark.chaos


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


def wait_for_line(worker: CoreWorker, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in worker.output():
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"no {text!r} in:\n{worker.output()}"
        time.sleep(0.1)


def test_punctuator_writes_survive_sigkill_and_wiped_state_dir(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in"), make_topics("out")
    app_id = unique("ticker")
    state = tmp_path / "state"
    env = worker_env(bootstrap, app_id, src, out, state, commit_ms=200, config=FAST_GROUP)
    worker = CoreWorker("ticker", env, tmp_path / "worker-1.log")
    wait_for_line(worker, "assigned")
    changelog = f"{app_id}-ticks-changelog"
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 30
    # a transaction per commit (one record and a marker): ten commits, with no input at all
    while admin.end_offsets(changelog, committed_only=True)[0] < 20:
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, "the punctuator's writes were never committed"
        time.sleep(0.2)
    worker.kill()
    committed = max(_i64(m.value) for m in read_all(bootstrap, changelog, idle=0.5))
    assert committed >= 10
    shutil.rmtree(state)

    worker = CoreWorker("ticker", env, tmp_path / "worker-2.log")
    wait_for_line(worker, "assigned")
    produce(bootstrap, src, [(b"probe", b"x")])
    (answer,) = read_all(bootstrap, out, expect=1, timeout=60)
    assert _i64(answer.value) >= committed, (committed, _i64(answer.value))
    assert worker.terminate() == 0, worker.output()
