"""Zombies cannot commit: neither a worker stalled past max.poll.interval.ms nor a second
process that claims the same transactional id; their output never becomes visible."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin
from streamlet.runtime.exitcodes import EXIT_FENCED

from apps import value_json
from support import (
    FAST_GROUP,
    WorkerProcess,
    assert_no_open_transactions,
    by_partition,
    key_for_partition,
    produce,
    read_all,
    wait_logged,
    worker_env,
)

pytestmark = pytest.mark.chaos

CONFIG = FAST_GROUP + ",max.poll.interval.ms=7000"


def _env(
    bootstrap: str, app_id: str, src: str, out: str, state: Path, **extra: str
) -> dict[str, str]:
    # client.id orders the members (a before b), so the range assignor's choice is known
    config = f"{CONFIG},client.id=fencing-{state.name}"
    return worker_env(bootstrap, app_id, src, out, state, commit_ms=500, config=config, **extra)


def _wait_committed(
    bootstrap: str, group: str, topic: str, at_least: int, who: WorkerProcess, timeout: float = 90
) -> None:
    admin = Admin(bootstrap)
    deadline = time.monotonic() + timeout
    while sum(admin.committed_offsets(group, topic).values()) < at_least:
        assert who.alive(), who.output()
        assert time.monotonic() < deadline, f"no commit of {at_least} records:\n{who.output()}"
        time.sleep(0.2)


def _assert_exactly_once(bootstrap: str, src: str, out: str, n: int) -> list[dict[str, object]]:
    outputs = read_all(bootstrap, out, expect=n, timeout=60)
    values = [json.loads(m.value or b"") for m in by_partition(outputs)[0]]
    assert [v["seq"] for v in values] == list(range(n))
    assert_no_open_transactions(bootstrap, out)
    return values


def test_worker_stalled_past_max_poll_interval_cannot_commit(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out, app_id = make_topics("in"), make_topics("out"), unique("zombie")
    stall_at = 500
    produce(bootstrap, src, [(b"k", value_json(i)) for i in range(stall_at)])
    zombie = WorkerProcess(
        "echo",
        _env(bootstrap, app_id, src, out, tmp_path / "a", STALL_ON=str(stall_at), STALL_S="16"),
        tmp_path / "zombie.log",
    )
    _wait_committed(bootstrap, app_id, src, stall_at, zombie)
    healthy = WorkerProcess(
        "echo", _env(bootstrap, app_id, src, out, tmp_path / "b"), tmp_path / "healthy.log"
    )
    # the healthy worker has joined and idles: the one partition is the zombie's (member a)
    wait_logged(healthy, "streamlet.runtime.worker: assigned nothing")
    wait_logged(zombie, "streamlet.runtime.worker: assigned t-in", 2)
    produce(bootstrap, src, [(b"k", value_json(i)) for i in range(stall_at, 1000)])
    # the zombie stalls on `stall_at` inside an open transaction; the group moves on without it
    _wait_committed(bootstrap, app_id, src, 1000, healthy)
    # the zombie wakes up, produces, and tries to commit: the group refuses its offsets
    log = wait_logged(zombie, "transaction failed, aborting", timeout=60)
    assert "Unknown member" in log, log
    assert zombie.terminate() == 0, zombie.output()
    assert healthy.terminate() == 0, healthy.output()
    values = _assert_exactly_once(bootstrap, src, out, 1000)
    assert values[stall_at]["by"] == healthy.proc.pid, "the zombie's output became visible"
    print("\nzombie log tail:\n" + "\n".join(zombie.output().splitlines()[-12:]))


def test_second_process_with_same_transactional_id_fences_the_first(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=2), make_topics("out", partitions=2)
    app_id = unique("twin")
    keys = [key_for_partition(p, 2) for p in (0, 1)]  # input on both partitions, whoever owns which
    feed = [(keys[i % 2], value_json(i)) for i in range(300)]
    produce(bootstrap, src, feed)
    first = WorkerProcess(
        "echo", _env(bootstrap, app_id, src, out, tmp_path / "a"), tmp_path / "first.log"
    )
    _wait_committed(bootstrap, app_id, src, 300, first)
    # a copy of the state dir carries the same process uuid, hence the same transactional id
    (tmp_path / "b" / app_id).mkdir(parents=True)
    shutil.copy(tmp_path / "a" / app_id / "process.uuid", tmp_path / "b" / app_id / "process.uuid")
    second = WorkerProcess(
        "echo", _env(bootstrap, app_id, src, out, tmp_path / "b"), tmp_path / "second.log"
    )
    # each now owns one partition; input makes the fenced first try to commit
    wait_logged(second, "streamlet.runtime.worker: assigned t-in")
    wait_logged(first, "streamlet.runtime.worker: assigned t-in", 2)
    produce(bootstrap, src, [(keys[i % 2], value_json(i)) for i in range(300, 600)])
    code = first.wait(60)
    assert code != 0, "the fenced worker kept running"
    assert "ProducerFencedError" in first.output(), first.output()
    _wait_committed(bootstrap, app_id, src, 600, second)
    assert second.terminate() == 0, second.output()
    outputs = by_partition(read_all(bootstrap, out, expect=600, timeout=60))
    inputs = by_partition(read_all(bootstrap, src, expect=600))
    for p, records in inputs.items():
        assert [m.value for m in records] == [
            json.dumps({k: v for k, v in json.loads(m.value or b"").items() if k == "seq"}).encode()
            for m in outputs[p]
        ]
    assert_no_open_transactions(bootstrap, out)


def test_second_process_with_same_static_identity_stops_the_first_as_fenced(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Under static membership the copy joins with the first's group.instance.id: the broker
    fences the first as a member (librdkafka: a _FATAL consumer error), and it stops with the
    fenced status, 66, which no supervisor restarts."""
    src, out = make_topics("in"), make_topics("out")
    app_id = unique("static-twin")
    produce(bootstrap, src, [(b"k", value_json(i)) for i in range(100)])
    first = WorkerProcess(
        "echo", _env(bootstrap, app_id, src, out, tmp_path / "a", STATIC="1"), tmp_path / "a.log"
    )
    _wait_committed(bootstrap, app_id, src, 100, first)
    (tmp_path / "b" / app_id).mkdir(parents=True)
    shutil.copy(tmp_path / "a" / app_id / "process.uuid", tmp_path / "b" / app_id / "process.uuid")
    second = WorkerProcess(
        "echo", _env(bootstrap, app_id, src, out, tmp_path / "b", STATIC="1"), tmp_path / "b.log"
    )
    assert first.wait(60) == EXIT_FENCED, first.output()
    assert "InstanceFencedError" in first.output(), first.output()
    produce(bootstrap, src, [(b"k", value_json(i)) for i in range(100, 200)])
    _wait_committed(bootstrap, app_id, src, 200, second)
    assert second.terminate() == 0, second.output()
    _assert_exactly_once(bootstrap, src, out, 200)
