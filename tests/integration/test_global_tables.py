"""Global tables on the real broker: loaded whole before the first record is processed,
kept up to date while the app runs, resumed from a checkpoint after a restart or a
SIGKILL (reloaded whole without one, or with one beyond the topic's end), and held whole
by every worker of ``--workers 2``."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamlet.errors import TopicError
from streamlet.kafka.admin import Admin
from streamlet.runtime.global_tables import CHECKPOINT

from apps_global import GlobalWorker, enrich
from support import produce, producer, read_all, worker_env

pytestmark = pytest.mark.integration

USERS = 20
_LOADED = re.compile(r"global tables loaded: (\d+) records")


@pytest.fixture
def topics(bootstrap: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two-partition orders and users topics, the users already holding USERS names."""
    tag = uuid.uuid4().hex[:8]
    names = {"app": f"glob-{tag}", "in": f"glob-orders-{tag}", "users": f"glob-users-{tag}"}
    names["out"] = f"glob-out-{tag}"
    admin = Admin(bootstrap)
    for key in ("in", "users", "out"):
        admin.ensure_topic(names[key], 2, {})
    produce(
        bootstrap, names["users"], [(f"u{i}".encode(), f"name{i}".encode()) for i in range(USERS)]
    )
    yield names
    admin.delete_topics([names[k] for k in ("in", "users", "out")])


def _env(bootstrap: str, t: dict[str, str], state: Path) -> dict[str, str]:
    return worker_env(
        bootstrap, t["app"], t["in"], t["out"], state, commit_ms=100, USERS=t["users"]
    )


def _orders(bootstrap: str, topic: str, users: list[int], first: int) -> None:
    produce(
        bootstrap,
        topic,
        [
            (f"o{first + i}".encode(), json.dumps({"user": f"u{u}", "n": first + i}).encode())
            for i, u in enumerate(users)
        ],
    )


def _joined(bootstrap: str, topic: str, expect: int) -> dict[int, dict[str, Any]]:
    out = {}
    for m in read_all(bootstrap, topic, expect=expect, timeout=60):
        value = json.loads(m.value or b"null")
        out[value["n"]] = value
    return out


def _until_joined(bootstrap: str, t: dict[str, str], user: int, name: str | None) -> None:
    """Produce orders of ``user`` until one comes out joined with ``name`` (30 s at most)."""
    deadline = time.monotonic() + 30
    n = 10_000
    while time.monotonic() < deadline:
        n += 1
        _orders(bootstrap, t["in"], [user], n)
        seen = {
            json.loads(m.value or b"null")["n"]: json.loads(m.value or b"null")["name"]
            for m in read_all(bootstrap, t["out"], idle=0.5, timeout=5)
        }
        if n in seen and seen[n] == name:
            return
    raise AssertionError(f"no order of u{user} was joined with {name!r} within 30 s")


def _loaded(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [int(m) for m in _LOADED.findall(caplog.text)]


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_global_table_loaded_before_processing_and_updated_while_running(
    bootstrap: str,
    topics: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # an aborted update never enters the table (read_committed), nor holds its load back
    aborted = producer(bootstrap, **{"transactional.id": f"abort-{uuid.uuid4().hex}"})
    aborted.init_transactions(30)
    aborted.begin_transaction()
    aborted.produce(topics["users"], b"aborted", b"u5")
    aborted.flush(30)
    aborted.abort_transaction(30)
    # orders waiting before the start: the very first ones processed must find their users
    _orders(bootstrap, topics["in"], [i % USERS for i in range(40)], 0)
    _set(monkeypatch, _env(bootstrap, topics, tmp_path / "state"))
    app = enrich()
    caplog.set_level(logging.INFO, logger="streamlet.runtime.global_tables")
    app.start()
    try:
        assert app.wait_until_running(60)
        first = _joined(bootstrap, topics["out"], 40)
        assert {n: v["name"] for n, v in first.items()} == {
            i: f"name{i % USERS}" for i in range(40)
        }
        assert _loaded(caplog) == [USERS]  # the aborted record is skipped, not loaded
        # an update and a tombstone produced while the app runs reach later orders
        produce(bootstrap, topics["users"], [(b"u3", b"renamed")])
        _until_joined(bootstrap, topics, 3, "renamed")
        produce(bootstrap, topics["users"], [(b"u4", None)])
        _until_joined(bootstrap, topics, 4, None)
    finally:
        app.stop()


def test_global_table_restart_reads_only_new_records_and_wiped_or_stale_state_reloads_all(
    bootstrap: str,
    topics: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = tmp_path / "state"
    _set(monkeypatch, _env(bootstrap, topics, state))
    caplog.set_level(logging.INFO, logger="streamlet.runtime.global_tables")

    def run_once() -> None:
        app = enrich()
        app.start()
        try:
            assert app.wait_until_running(60)
        finally:
            app.stop()

    run_once()
    produce(bootstrap, topics["users"], [(b"u1", b"again"), (b"u99", b"new")])
    run_once()
    copy = state / topics["app"] / "global"
    shutil.rmtree(copy)
    run_once()
    # a checkpoint beyond the topic's end (as after the topic was recreated) reloads all
    (copy / "worker-0" / "users" / CHECKPOINT).write_text('{"offsets": {"0": 999999}}')
    run_once()
    assert _loaded(caplog) == [USERS, 2, USERS + 2, USERS + 2]
    # the restarted app joins with the table as it now is
    _orders(bootstrap, topics["in"], [1, 99], 0)
    app = enrich()
    app.start()
    try:
        assert app.wait_until_running(60)
        joined = _joined(bootstrap, topics["out"], 2)
    finally:
        app.stop()
    assert {n: v["name"] for n, v in joined.items()} == {0: "again", 1: "new"}


def test_global_table_each_of_two_workers_holds_the_whole_table(
    bootstrap: str, topics: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = _env(bootstrap, topics, state)
    worker = GlobalWorker("enrich", env, tmp_path / "workers.log", "--workers", "2")
    orders = 40
    try:
        _until_split(worker, topics["in"])
        _orders(bootstrap, topics["in"], [i % USERS for i in range(orders)], 0)
        joined = _joined(bootstrap, topics["out"], orders)
    finally:
        assert worker.terminate() == 0, worker.output()
    assert {n: v["name"] for n, v in joined.items()} == {
        i: f"name{i % USERS}" for i in range(orders)
    }
    # both workers processed orders (one input partition each), each from its own copy
    assert len({v["by"] for v in joined.values()}) == 2, worker.output()
    copies = sorted(p.name for p in (state / topics["app"] / "global").iterdir())
    assert copies == ["worker-0", "worker-1"]
    assert _loaded_lines(worker.output()) == [USERS, USERS]


def _until_split(worker: GlobalWorker, topic: str) -> None:
    """Wait until the two workers own one partition of ``topic`` each."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pattern = rf"\[(\d+)\] streamlet.runtime.worker: assigned {re.escape(topic)}\[(\d)\]$"
        found = re.findall(pattern, worker.output(), re.MULTILINE)
        owners = {partition: pid for pid, partition in found}  # the latest owner of each
        if len(set(owners.values())) == 2:
            return
        time.sleep(0.2)
    raise AssertionError(f"the two workers never split {topic}:\n{worker.output()}")


def _loaded_lines(text: str) -> list[int]:
    return [int(m) for m in _LOADED.findall(text)]


def test_global_table_of_a_missing_topic_stops_the_worker_naming_it(
    bootstrap: str, topics: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(bootstrap, topics, tmp_path / "state")
    _set(monkeypatch, {**env, "USERS": f"{topics['users']}-missing"})
    app = enrich()
    app.start()
    with pytest.raises(TopicError, match=f"{topics['users']}-missing.*'users'"):
        app.stop()


def test_global_table_after_sigkill_replays_from_its_checkpoint(
    bootstrap: str, topics: dict[str, str], tmp_path: Path
) -> None:
    # static membership: the restarted worker takes the killed one's place at once
    env = {**_env(bootstrap, topics, tmp_path / "state"), "STATIC": "1"}
    first = GlobalWorker("enrich", env, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        while not _loaded_lines(first.output()):
            assert time.monotonic() < deadline and first.alive(), first.output()
            time.sleep(0.1)
        # applied while running, then killed before the next checkpoint (every 10 s)
        produce(bootstrap, topics["users"], [(b"u1", b"updated"), (b"u2", None)])
        _until_joined(bootstrap, topics, 1, "updated")
        _until_joined(bootstrap, topics, 2, None)
    finally:
        first.kill()
    second = GlobalWorker("enrich", env, tmp_path / "second.log")
    try:
        _until_joined(bootstrap, topics, 1, "updated")
        _until_joined(bootstrap, topics, 2, None)
        _until_joined(bootstrap, topics, 3, "name3")
    finally:
        assert second.terminate() == 0, second.output()
    # the restart read the two updates again (from the checkpoint the load wrote), not all
    assert _loaded_lines(first.output()) == [USERS]
    assert _loaded_lines(second.output()) == [2]
