"""A foreign-key table join stays exactly once under SIGKILL.

Orders (three partitions) and customers (two partitions) change continuously: orders move
between customers, lose their customer (None foreign key), are deleted; customers are
renamed and deleted. A worker running the inner foreign-key join is SIGKILLed inside open
transactions and restarted, on its state dir or on a wiped one (the left, right, result and
subscription stores restored from their changelogs). Then, read_committed: the latest
output per order is the foreign-key join of the final rows of both topics — no result lost,
and no stale result (an order joined with a customer it left, or a deleted one) survives.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apps_fk import FkWorker, expected_fk_join

from streamlet.kafka.admin import Admin

from support import (
    FAST_GROUP,
    Feeder,
    Msg,
    assert_no_open_transactions,
    read_all,
    wait_for_progress,
    worker_env,
)

pytestmark = pytest.mark.chaos

ORDERS, CUSTOMERS = 150, 10


class TablesFeeder(Feeder):
    """Mostly order changes (a customer, rarely None, or a delete), some customer changes."""

    def __init__(self, bootstrap: str, orders: str, customers: str, rate: int) -> None:
        super().__init__(bootstrap, rate)
        self._orders, self._customers, self._rng = orders, customers, random.Random(5)
        self.sent = {orders: 0, customers: 0}

    def feed(self, n: int) -> None:
        rng = self._rng
        if rng.random() < 0.25:
            key = f"c{rng.randrange(CUSTOMERS)}".encode()
            value = None if rng.random() < 0.2 else f"name{n}".encode()
            self.producer.produce(self._customers, value, key)
            self.sent[self._customers] += 1
            return
        key = f"o{rng.randrange(ORDERS)}".encode()
        roll = rng.random()
        if roll < 0.1:
            self.producer.produce(self._orders, None, key)
            return
        customer = None if roll < 0.15 else f"c{rng.randrange(CUSTOMERS)}"
        self.producer.produce(
            self._orders, json.dumps({"customer": customer, "n": n}).encode(), key
        )


def _latest(msgs: list[Msg], decode: Callable[[bytes], Any]) -> dict[str, Any]:
    """The last value per key (keys deleted last are left out)."""
    rows: dict[str, Any] = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        key = (m.key or b"").decode()
        if m.value is None:
            rows.pop(key, None)
        else:
            rows[key] = decode(m.value)
    return rows


def _wait_quiet(
    admin: Admin, app_id: str, inputs: list[str], internal: list[str], out: str, who: FkWorker
) -> None:
    """Until every input record is processed and committed, and then the subscription and
    response topics and the output stay unchanged for 4 s (4 commit intervals: each hop of
    a subscription and its answer is one commit). The internal topics cannot be compared
    with their ends: they are written in transactions, so a commit marker (or a killed
    worker's aborted batch) is the last offset, which no consumer commits past."""
    deadline, quiet_since, last = time.monotonic() + 90, time.monotonic(), None
    while True:
        assert who.alive() and time.monotonic() < deadline, who.output()
        drained = all(
            admin.committed_offsets(app_id, t) == admin.end_offsets(t, committed_only=True)
            for t in inputs
        )
        snapshot = (
            [admin.committed_offsets(app_id, t) for t in internal],
            [admin.end_offsets(t, committed_only=False) for t in (*internal, out)],
        )
        if snapshot != last or not drained:
            last, quiet_since = snapshot, time.monotonic()
        elif time.monotonic() - quiet_since >= 4:
            return
        time.sleep(0.3)


def test_fk_join_converges_exactly_after_sigkills(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    orders = make_topics("fk-orders", partitions=3)
    customers = make_topics("fk-customers", partitions=2)
    out = make_topics("fk-out", partitions=3)
    app_id = unique("fk")
    state = tmp_path / "state"
    env = worker_env(
        bootstrap,
        app_id,
        orders,
        out,
        state,
        commit_ms=1000,
        config=FAST_GROUP,
        RIGHT=customers,
        STATIC="1",  # a restarted worker takes its tasks back without a session timeout
    )
    feeder = TablesFeeder(bootstrap, orders, customers, rate=150)
    feeder.start()
    rng = random.Random(8)
    plan = ["keep", "wipe", "keep", "wipe", "keep"]
    for i, restart in enumerate(plan):
        if restart == "wipe":
            shutil.rmtree(state, ignore_errors=True)
        worker = FkWorker("fk_join", env, tmp_path / f"worker-{i}.log")
        wait_for_progress(bootstrap, out, worker)
        time.sleep(rng.uniform(0.5, 1.5))
        assert worker.alive(), worker.output()
        worker.kill()
    sent = feeder.stop()
    final = FkWorker("fk_join", env, tmp_path / "worker-final.log")
    admin = Admin(bootstrap)
    internal = [
        f"{app_id}-order-customer-subscription-registration-topic",
        f"{app_id}-order-customer-subscription-response-topic",
    ]
    _wait_quiet(admin, app_id, [orders, customers], internal, out, final)
    assert final.terminate() == 0, final.output()
    assert_no_open_transactions(bootstrap, out, *internal)

    left = _latest(read_all(bootstrap, orders, expect=feeder.sent[orders]), json.loads)
    right = _latest(read_all(bootstrap, customers, expect=feeder.sent[customers]), bytes.decode)
    want = expected_fk_join(left, right)
    results = read_all(bootstrap, out)
    got, committed = _latest(results, json.loads), len(results)
    aborted = len(read_all(bootstrap, out, committed=False)) - committed
    print(
        f"\n{len(plan)} SIGKILLs ({plan.count('wipe')} restarts on a wiped state dir); "
        f"{sent} input changes; {committed} committed results, {len(want)} final rows; "
        f"{aborted} aborted results invisible to read_committed"
    )
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    stale = {k: v for k, v in got.items() if k not in want}
    assert not missing, f"{len(missing)} results missing or stale, e.g. {list(missing.items())[:3]}"
    assert not stale, f"{len(stale)} results that should be gone, e.g. {list(stale.items())[:3]}"
    assert aborted > 0, "no kill landed inside an open transaction"
