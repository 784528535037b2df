"""A stream-stream outer join stays exactly once under SIGKILL.

Two topics fed continuously (event time = produce time, random keys, unique values) are
outer-joined by a worker that is SIGKILLed inside open transactions and restarted, on its
state dir or on a wiped one (restored from the three changelogs). Then, read_committed:
every pair within the time difference comes out exactly once, every record without a
partner comes out exactly once as ``l+null`` / ``null+r`` — none missing, none twice, and no
spurious unmatched result for a record that has a partner.

Ordering: a task processes its two input partitions in event-time order, and a restarted
worker reads a backlog of both topics. The expected result is order-free as long as no
record is late, and the grace (15 s) is larger than any disorder the test can cause anyway
(small fetches, 4 KB per partition, interleave the backlogs closely). A last worker runs
until stream time is past the first records' time difference + grace, and is killed too, so
unmatched records close and are emitted while kills keep landing.
"""

from __future__ import annotations

import random
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamlet.kafka.admin import Admin

from apps_join import JoinWorker, Rec, expected_outer
from support import (
    FAST_GROUP,
    Feeder,
    assert_no_open_transactions,
    produce,
    read_all,
    wait_for_progress,
    worker_env,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 3
DIFF_MS, GRACE_MS = 500, 15_000


class PairFeeder(Feeder):
    """Alternately ``L<n>`` to the left topic and ``R<n>`` to the right one, under one of
    ``keys`` random keys."""

    def __init__(self, bootstrap: str, left: str, right: str, rate: int, keys: int) -> None:
        super().__init__(bootstrap, rate)
        self._topics, self._keys, self._rng = (left, right), keys, random.Random(11)

    def feed(self, n: int) -> None:
        key = f"key-{self._rng.randrange(self._keys)}".encode()
        value = f"{'LR'[n % 2]}{n}".encode()
        self.producer.produce(self._topics[n % 2], value, key)


def _wait_for_unmatched(bootstrap: str, topic: str, worker: JoinWorker, timeout: float) -> None:
    """Until a committed ``l+null`` / ``null+r`` result is in ``topic``."""
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"unmatched-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    deadline = time.monotonic() + timeout
    try:
        while True:
            for m in reader.consume(500, 0.5):
                if m.error() is None and b"null" in (m.value() or b""):
                    return
            assert worker.alive(), worker.output()
            assert time.monotonic() < deadline, (
                f"no unmatched result committed within {timeout:.0f} s\n{worker.output()}"
            )
    finally:
        reader.close()


def _records(bootstrap: str, topic: str, expect: int) -> list[Rec]:
    return [
        ((m.key or b"").decode(), (m.value or b"").decode(), m.timestamp)
        for m in read_all(bootstrap, topic, expect=expect)
    ]


def test_outer_join_results_come_out_exactly_once_after_sigkills(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    left = make_topics("join-left", partitions=PARTITIONS)
    right = make_topics("join-right", partitions=PARTITIONS)
    out = make_topics("join-out", partitions=PARTITIONS)
    app_id = unique("join")
    state = tmp_path / "state"
    env = worker_env(
        bootstrap,
        app_id,
        left,
        out,
        state,
        commit_ms=1500,
        config=f"{FAST_GROUP},max.partition.fetch.bytes=4096",
        RIGHT=right,
        DIFF_MS=str(DIFF_MS),
        GRACE_MS=str(GRACE_MS),
    )
    started = time.monotonic()
    feeder = PairFeeder(bootstrap, left, right, rate=200, keys=40)
    feeder.start()
    rng = random.Random(8)
    plan = ["keep", "wipe", "keep", "wipe", "keep"]
    workers: list[JoinWorker] = []
    for i, restart in enumerate(plan):
        if restart == "wipe":
            shutil.rmtree(state, ignore_errors=True)
        worker = JoinWorker("outer_join", env, tmp_path / f"worker-{i}.log")
        workers.append(worker)
        wait_for_progress(bootstrap, out, worker)
        time.sleep(rng.uniform(0.5, 2.5))
        assert worker.alive(), worker.output()
        worker.kill()
    # unmatched records must close (and be emitted) under kills, not only at the end: one
    # more worker runs until stream time (= produce time) is well past the first records'
    # time difference + grace, with commits in between, and is killed as well
    survivor = JoinWorker("outer_join", env, tmp_path / "worker-survivor.log")
    workers.append(survivor)
    wait_for_progress(bootstrap, out, survivor)
    while time.monotonic() - started < (DIFF_MS + GRACE_MS) / 1000 + 6:
        assert survivor.alive(), survivor.output()
        time.sleep(0.5)
    # and until it has committed an unmatched result: when the rounds above took longer than
    # that bound the survivor started on an old backlog and was killed at its first commit,
    # before its stream time passed any record's time difference + grace (seen in CI)
    _wait_for_unmatched(bootstrap, out, survivor, timeout=60.0)
    survivor.kill()
    sent = feeder.stop()
    admin = Admin(bootstrap)
    before_final = admin.end_offsets(out, committed_only=True)
    final = JoinWorker("outer_join", env, tmp_path / "worker-final.log")
    workers.append(final)
    deadline = time.monotonic() + 120
    for topic in (left, right):  # all input processed before the closers move stream time
        ends = admin.end_offsets(topic, committed_only=True)
        while admin.committed_offsets(app_id, topic) != ends:
            assert final.alive() and time.monotonic() < deadline, final.output()
            time.sleep(0.2)
    far = int(time.time() * 1000) + 2 * (DIFF_MS + GRACE_MS)
    for topic, side in ((left, "L"), (right, "R")):
        for p in range(PARTITIONS):
            produce(
                bootstrap,
                topic,
                [(f"closer-{side}{p}".encode(), b"end")],
                partition=p,
                timestamps=[far],
            )

    lefts = [r for r in _records(bootstrap, left, sent // 2 + PARTITIONS) if r[1] != "end"]
    rights = [r for r in _records(bootstrap, right, sent // 2 + PARTITIONS) if r[1] != "end"]
    assert len(lefts) + len(rights) == sent, "input records are missing"
    want = expected_outer(lefts, rights, DIFF_MS)
    msgs = read_all(bootstrap, out, expect=sum(want.values()), timeout=120)
    assert final.terminate() == 0, final.output()
    assert_no_open_transactions(bootstrap, out)
    for topic in (left, right):
        assert admin.committed_offsets(app_id, topic) == admin.end_offsets(
            topic, committed_only=True
        ), f"the cut is not all input of {topic}"
    got = Counter(((m.key or b"").decode(), (m.value or b"").decode(), m.timestamp) for m in msgs)
    twice = {r: n for r, n in got.items() if n > 1}
    missing = want - got
    extra = got - want
    late = sum(w.output().count("dropped a late record") for w in workers)
    assert not twice, f"results emitted more than once: {list(twice.items())[:5]}"
    assert not missing, f"{sum(missing.values())} results missing, e.g. {list(missing)[:5]}"
    assert not extra, f"{sum(extra.values())} spurious results, e.g. {list(extra)[:5]} ({late=})"
    unmatched = sum(n for (_, v, _), n in want.items() if "null" in v)
    under_kills = sum(
        1 for m in msgs if b"null" in (m.value or b"") and m.offset < before_final[m.partition]
    )
    aborted = len(read_all(bootstrap, out, committed=False, idle=1.0)) - len(msgs)
    print(
        f"\n{len(plan) + 1} SIGKILLs ({plan.count('wipe')} restarts on a wiped state dir); "
        f"{sent} inputs; {len(msgs)} results ({unmatched} unmatched, {under_kills} of them "
        "emitted before the final worker), each once; "
        f"{aborted} aborted results invisible to read_committed"
    )
    assert aborted > 0, "no kill landed inside an open transaction"
    assert under_kills > 0, "no unmatched record closed while the kills went on"
