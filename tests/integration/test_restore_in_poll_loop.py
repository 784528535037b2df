"""Restoration runs in the poll loop, not in the rebalance callback: a restore that lasts
longer than ``max.poll.interval.ms`` does not cost a worker its group membership (issue 10).

librdkafka does not count the time an application spends inside a poll (rebalance callbacks
included) against ``max.poll.interval.ms``, so a member restoring alone in its callback keeps
its assignment. The cost comes with the next rebalance: a member stuck in a callback cannot
rejoin, so the group waits for it up to its rebalance timeout (``max.poll.interval.ms``) and
then evicts it. So: the ``counts`` changelog of partition 0 ends with a record of a
transaction the test keeps open, which holds restoration back (it may not end before that
record is decided). Worker A starts alone on an empty state dir and restores; worker B joins
meanwhile. A must take part in that rebalance at once (B is assigned well within the 8 s
poll interval, A keeps a share) and nobody is evicted; then the transaction stays open for
1.5 poll intervals more, so the restoration of partition 0 lasts longer than the poll
interval with the group at rest and no further rebalance. Once it commits, both count their
input on top of the restored counts (the held-back record included), exactly once.
"""

from __future__ import annotations

import datetime
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streamlet.kafka.admin import Admin

from apps_state import StateWorker
from support import (
    WorkerProcess,
    assert_no_open_transactions,
    key_for_partition,
    produce,
    read_all,
    worker_env,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
POLL_INTERVAL_S = 8.0
GROUP = "session.timeout.ms=6000,heartbeat.interval.ms=500,max.poll.interval.ms=8000"
FILLER = 10_000  # committed changelog records per partition
OPEN_COUNT = 1000  # the count the held-open transaction writes for KEYS[0]
PER_KEY = 5
KEYS = [key_for_partition(p, PARTITIONS).decode() for p in range(PARTITIONS)]
SEEDED = {KEYS[0]: 100, KEYS[1]: 200}  # counts already committed to the changelog
_RESTORED = re.compile(r"streamlet\.runtime\.restore: restored (\d+) records .* in ([\d.]+) s")
_ASSIGNED = re.compile(r"streamlet\.runtime\.worker: assigned (.*)$", re.MULTILINE)


def _i64(n: int) -> bytes:
    return n.to_bytes(8, "big", signed=True)


def _wait(cond: Callable[[], bool], worker: WorkerProcess, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"{what} within {timeout} s:\n{worker.output()}"
        time.sleep(0.1)


def _join_s(log: str) -> float:
    """Seconds from the worker's ``starting`` line to its first assignment of input."""
    starting = _logged_at(log, "streamlet.runtime.worker: worker ")
    return _logged_at(log, "streamlet.runtime.worker: assigned t-in") - starting


def _logged_at(log: str, marker: str) -> float:
    """Epoch seconds of the first log line containing ``marker``."""
    for line in log.splitlines():
        if marker in line:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    raise AssertionError(f"no {marker!r} in the log:\n{log}")


def _seed(bootstrap: str, changelog: str, transactional_id: str) -> Producer:
    """A previous owner's changelog: committed counts on both partitions, then a transaction
    left open on partition 0 (the returned producer holds it)."""
    seeder = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": transactional_id,
            "transaction.timeout.ms": 120_000,
            "linger.ms": 20,
        }
    )
    seeder.init_transactions(30)
    seeder.begin_transaction()
    for p in range(PARTITIONS):
        for i in range(FILLER - 1):
            seeder.produce(changelog, _i64(1), f"f{i}".encode(), partition=p)
            if i % 5000 == 0:
                seeder.poll(0)
        seeder.produce(changelog, _i64(SEEDED[KEYS[p]]), KEYS[p].encode(), partition=p)
    seeder.commit_transaction(30)
    seeder.begin_transaction()
    seeder.produce(changelog, _i64(OPEN_COUNT), KEYS[0].encode(), partition=0)
    assert seeder.flush(30) == 0
    return seeder


def test_restore_longer_than_max_poll_interval_keeps_the_assignment(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src = make_topics("in", partitions=PARTITIONS)
    out = unique("out")
    app_id = unique("longrestore")
    admin = Admin(bootstrap)
    for suffix in ("counts", "sums"):
        admin.ensure_topic(f"{out}-{suffix}", PARTITIONS, {})
    changelog = f"{app_id}-counts-changelog"
    for store in ("counts", "sums"):
        admin.ensure_topic(f"{app_id}-{store}-changelog", PARTITIONS, {"cleanup.policy": "compact"})
    seeder = _seed(bootstrap, changelog, unique("seeder"))
    produce(bootstrap, src, [(k.encode(), b'{"value": 1}') for k in KEYS for _ in range(PER_KEY)])

    def start(name: str) -> StateWorker:
        env = worker_env(bootstrap, app_id, src, out, tmp_path / name, commit_ms=200, config=GROUP)
        return StateWorker("count_sum", env, tmp_path / f"{name}.log")

    a = start("a")
    committed = False
    try:
        _wait(lambda: "restoring " in a.output(), a, 60, "A did not start restoring")
        b = start("b")
        _wait(lambda: "assigned t-in" in b.output(), b, 60, "B got no assignment")
        began = time.monotonic()
        # the fault's own timing: the open transaction holds the restoration of partition 0
        # (by A or by B) back for longer than the poll interval, the group at rest
        while time.monotonic() - began < POLL_INTERVAL_S * 1.5:
            assert a.alive() and b.alive(), a.output() + b.output()
            time.sleep(0.2)
        # partition 0's restoration is still held back: its task has not run (partition 1's
        # may have; its outputs go to partition 1)
        produced = admin.end_offsets(f"{out}-counts", committed_only=False)
        assert produced[0] == 0, "partition 0's task ran before its restoration ended"
        seeder.commit_transaction(30)
        committed = True
    finally:
        if not committed:
            seeder.abort_transaction(30)

    total = len(KEYS) * PER_KEY
    counts = read_all(bootstrap, f"{out}-counts", expect=total, timeout=60)
    a_log, b_log = a.output(), b.output()
    assert a.terminate(timeout=60) == 0, a_log
    assert b.terminate(timeout=60) == 0, b_log

    # B's join completed without waiting for A's rebalance timeout: A took part at once
    join = _join_s(b_log)
    assert join < POLL_INTERVAL_S, f"B waited {join:.1f} s for its assignment\n{a_log}\n{b_log}"
    # A was never evicted: no lost partitions, no poll-interval error; it was assigned twice
    # (alone, then its share beside B), both times some input
    for log in (a_log, b_log):
        assert "partitions lost" not in log, log
        assert "maximum poll interval" not in log.lower(), log
        assert "UNKNOWN_MEMBER" not in log, log
    # and no rebalance after B's join
    assigned = _ASSIGNED.findall(a_log)
    assert len(assigned) == 2 and all("t-in" in x for x in assigned), a_log
    assert len(_ASSIGNED.findall(b_log)) == 1, b_log
    # the held partition's restore lasted longer than the poll interval: its counts start at
    # the held-back record, which only its commit let restoration reach
    restored = [float(s) for _, s in _RESTORED.findall(a_log + b_log)]
    assert restored and max(restored) > POLL_INTERVAL_S, a_log + b_log
    per_key: dict[str, list[int]] = defaultdict(list)
    for m in sorted(counts, key=lambda m: (m.partition, m.offset)):
        per_key[(m.key or b"").decode()].append(int.from_bytes(m.value or b"", "big"))
    start_at = {KEYS[0]: OPEN_COUNT, KEYS[1]: SEEDED[KEYS[1]]}
    assert dict(per_key) == {
        k: list(range(start_at[k] + 1, start_at[k] + PER_KEY + 1)) for k in KEYS
    }
    assert_no_open_transactions(bootstrap, f"{out}-counts", changelog)
