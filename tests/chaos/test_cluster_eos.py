"""Kafka Streams' EOS system test (StreamsEosTest) on the 3-node cluster.

Three workers run the stateful topology with a repartition (apps.py ``stateful``) while input
flows. Faults, in a random order: workers SIGKILLed (inside open transactions) and restarted
on kept or wiped state dirs; the broker leading the most output and transaction-log
partitions SIGKILLed and restarted; a zombie (SIGSTOP past max.poll.interval.ms, then
SIGCONT) that must try to commit and be refused. Then exactly-once is verified
(eos_verify.py). ``scripts/chaos`` runs it with CHAOS_WORKER_KILLS, CHAOS_BROKER_BOUNCES,
CHAOS_RATE and CHAOS_SEED; the short default is 6 kills, 1 bounce, 1 zombie.

Not collected by the suite (no ``test_`` prefix): one short run takes ~190 s, over the
suite's budget, and it is not yet proven stable. With seed 8 it passed (6 kills, 3 on wiped
state, 1 bounce, 1 zombie refused, 60k inputs, 0 dup/lost/wrong); earlier runs found a worker
that stopped polling after a broker bounce and ignored SIGTERM (before the high-watermark
settle in restore), and twice the test process itself died of SIGSEGV while a broker was down.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from cluster import Cluster
from confluent_kafka.admin import AdminClient
from eos_verify import OUTPUTS, verify_stateful

from streamlet.kafka.admin import Admin

from support import RandomFeeder, WorkerProcess, worker_env

pytestmark = pytest.mark.chaos

PARTITIONS = 3
WORKERS = 3
KILLS = int(os.environ.get("CHAOS_WORKER_KILLS", "6"))
BOUNCES = int(os.environ.get("CHAOS_BROKER_BOUNCES", "1"))
RATE = int(os.environ.get("CHAOS_RATE", "400"))
SEED = int(os.environ.get("CHAOS_SEED", "7"))
POLL_MS = 8000
REFUSED = re.compile(r"transaction failed, aborting|commit failed")
CONFIG = f"session.timeout.ms=3000,heartbeat.interval.ms=300,max.poll.interval.ms={POLL_MS}"


def _leaders(client: AdminClient, topics: list[str]) -> dict[int, int]:
    """Partitions led, per broker id, among ``topics``."""
    meta = client.list_topics(timeout=30)
    led: dict[int, int] = {}
    for name in topics:
        topic = meta.topics.get(name)
        for p in topic.partitions.values() if topic else ():
            if p.leader >= 0:
                led[p.leader] = led.get(p.leader, 0) + 1
    return led


def _fully_replicated(client: AdminClient, topics: list[str]) -> bool:
    meta = client.list_topics(timeout=30)
    return all(
        name in meta.topics and all(len(p.isrs) == 3 for p in meta.topics[name].partitions.values())
        for name in topics
    )


class Run:
    def __init__(self, cluster: Cluster, tmp: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.cluster, self.tmp = cluster, tmp
        self.src, self.out, self.app_id = f"ceos-in-{tag}", f"ceos-out-{tag}", f"ceos-{tag}"
        self.admin = Admin(cluster.bootstrap)
        self.client = AdminClient({"bootstrap.servers": cluster.bootstrap})
        self.admin.ensure_topic(self.src, PARTITIONS, {})
        for suffix in OUTPUTS:
            self.admin.ensure_topic(f"{self.out}-{suffix}", PARTITIONS, {})
        self.workers: list[WorkerProcess] = []
        self.starts = 0
        for i in range(WORKERS):
            self.workers.append(self.start(i))

    def state(self, i: int) -> Path:
        return self.tmp / f"state-{i}"

    def start(self, i: int) -> WorkerProcess:
        env = worker_env(
            self.cluster.bootstrap,
            self.app_id,
            self.src,
            self.out,
            self.state(i),
            commit_ms=1000,
            config=CONFIG,
        )
        self.starts += 1
        return WorkerProcess("stateful", env, self.tmp / f"worker-{i}-{self.starts}.log")

    def assert_all_alive(self) -> None:
        for w in self.workers:
            assert w.alive(), "a worker died by itself:\n" + w.output()[-6000:]

    def committed(self) -> dict[int, int]:
        return self.admin.committed_offsets(self.app_id, self.src)

    def resumed_after(self, before: dict[int, int], timeout: float = 120) -> float:
        """Seconds until the group commits past ``before`` on every input partition."""
        start = time.monotonic()
        while True:
            now = self.committed()
            if all(now.get(p, 0) > before.get(p, 0) for p in range(PARTITIONS)):
                return time.monotonic() - start
            assert time.monotonic() - start < timeout, f"no progress since {before}: {now}"
            time.sleep(0.2)


def test_cluster_eos_survives_worker_kills_broker_bounces_and_a_zombie(
    cluster: Cluster, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    run = Run(cluster, tmp_path)
    feeder = RandomFeeder(cluster.bootstrap, run.src, rate=RATE, seed=SEED)
    feeder.start()
    run.resumed_after({}, timeout=180)  # every partition processed once: the group is up
    faults = ["kill"] * KILLS + ["bounce"] * BOUNCES + ["zombie"]
    rng.shuffle(faults)
    resume: dict[str, list[float]] = {"kill": [], "wipe": [], "bounce": [], "zombie": []}
    refused = 0
    t0 = time.monotonic()
    for fault in faults:
        run.assert_all_alive()
        before = run.committed()
        if fault == "kill":
            i = rng.randrange(WORKERS)
            run.workers[i].kill()  # input flows and commits are 1 s apart: inside a transaction
            wipe = rng.random() < 0.3
            if wipe:
                shutil.rmtree(run.state(i), ignore_errors=True)
            run.workers[i] = run.start(i)
            resume["wipe" if wipe else "kill"].append(run.resumed_after(before))
        elif fault == "bounce":
            txn_log = "__transaction_state"
            led = _leaders(run.client, [txn_log, *(f"{run.out}-{s}" for s in OUTPUTS)])
            node = max(led, key=lambda b: led[b])
            cluster.kill_node(node)
            resume["bounce"].append(run.resumed_after(before, timeout=180))
            cluster.start_node(node)
            deadline = time.monotonic() + 180
            while not _fully_replicated(
                run.client, [run.src, *(f"{run.out}-{s}" for s in OUTPUTS)]
            ):
                assert time.monotonic() < deadline, "the restarted broker never caught up"
                time.sleep(0.5)
        else:
            i = rng.randrange(WORKERS)
            zombie = run.workers[i]
            seen = len(zombie.output())
            zombie.proc.send_signal(signal.SIGSTOP)
            time.sleep(POLL_MS / 1000 + 4)  # the fault itself: frozen past max.poll.interval.ms
            zombie.proc.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 60
            # refused: its transaction fails at its next produce or commit, never commits
            while not REFUSED.search(zombie.output()[seen:]):
                assert zombie.alive(), zombie.output()[-6000:]
                assert time.monotonic() < deadline, (
                    "the zombie never tried to commit:\n" + (zombie.output()[seen:])
                )
                time.sleep(0.2)
            refused += 1
            resume["zombie"].append(run.resumed_after(before))
        time.sleep(rng.uniform(0.2, 1.5))  # the fault's own timing: not a synchronisation
    run.assert_all_alive()
    sent = feeder.stop()
    internal = tuple(
        t for t in run.admin.client.list_topics(timeout=30).topics if t.startswith(run.app_id)
    )
    verdict_args = (cluster.bootstrap, run.app_id, run.src, run.out, sent, internal)
    # outputs first (the workers are still running and catch up), then a clean stop
    verdict = verify_stateful(*verdict_args)
    for w in run.workers:
        try:
            code = w.terminate()
        except subprocess.TimeoutExpired:
            w.proc.send_signal(signal.SIGUSR1)  # its stacks, into its log
            time.sleep(1)
            raise AssertionError("a worker hung on SIGTERM:\n" + w.output()[-8000:]) from None
        assert code == 0, w.output()[-6000:]
    every = [s for series in resume.values() for s in series]
    print(
        f"\n{KILLS} worker SIGKILLs ({len(resume['wipe'])} on wiped state), {BOUNCES} broker "
        f"bounces, {refused} zombie refused; {sent} inputs in {time.monotonic() - t0:.0f} s; "
        f"{verdict.aborted} aborted sums records; 0 dup/lost/wrong. Resume (s): "
        + "; ".join(
            f"{k} p50 {statistics.median(v):.1f} max {max(v):.1f}" for k, v in resume.items() if v
        )
        + f"; all p50 {statistics.median(every):.1f} p99 {_p99(every):.1f}"
    )
    assert verdict.aborted > 0, "no kill landed inside an open transaction"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
