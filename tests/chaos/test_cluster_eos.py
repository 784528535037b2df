"""Kafka Streams' EOS system test (StreamsEosTest) on the 3-node cluster.

Three workers run the stateful topology with a repartition (apps.py ``stateful``) while input
flows. Faults, in a random order: workers SIGKILLed (inside open transactions) and restarted
on kept or wiped state dirs; the broker leading the most output and transaction-log
partitions SIGKILLed and restarted; a zombie (SIGSTOP past max.poll.interval.ms, then
SIGCONT) that must try to commit and be refused. Then exactly-once is verified
(eos_verify.py). The suite runs the short version (CHAOS_WORKER_KILLS=6, 1 bounce, the
zombie); ``scripts/chaos`` runs the long one (50 kills, 3 bounces) with the same knobs:
CHAOS_WORKER_KILLS, CHAOS_BROKER_BOUNCES, CHAOS_RATE, CHAOS_SEED.

The test process holds no Kafka client while faults run: the feeder and the probes (committed
offsets, leaders, replication) live in subprocesses (cluster_probe.py), since librdkafka
clients crashed the test process with SIGSEGV while a broker was down. A worker that dies by
itself or makes no progress fails the run at once, with every live worker's stacks (SIGUSR1)
in the message.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster
from eos_verify import OUTPUTS, verify_stateful

from streamlet.kafka.admin import Admin

from support import ROOT, TESTS, WorkerProcess, worker_env

PARTITIONS = 3
WORKERS = 3
KILLS = int(os.environ.get("CHAOS_WORKER_KILLS", "6"))
BOUNCES = int(os.environ.get("CHAOS_BROKER_BOUNCES", "1"))
RATE = int(os.environ.get("CHAOS_RATE", "400"))
SEED = int(os.environ.get("CHAOS_SEED", "7"))
POLL_MS = 8000
REFUSED = re.compile(r"transaction failed, aborting|commit failed")
ASSIGNED = re.compile(r"streamlet\.runtime\.worker: assigned (.*)")
REBALANCE = re.compile(r"worker: (?:assigned|revoked|partitions lost)|restore: restor")
CONFIG = f"session.timeout.ms=3000,heartbeat.interval.ms=300,max.poll.interval.ms={POLL_MS}"
PROBE = Path(__file__).with_name("cluster_probe.py")
# a bound that scales with the knobs (scripts/chaos runs 50 kills): the short run takes ~3 min
# the cluster tests share one xdist process (the cluster fixture starts the cluster once)
pytestmark = [
    pytest.mark.chaos,
    pytest.mark.xdist_group("cluster"),
    pytest.mark.timeout(300 + 40 * KILLS + 150 * BOUNCES),
]


def _helper(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{ROOT}"}
    return subprocess.Popen(
        [sys.executable, str(PROBE), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


class Probe:
    """Questions to the cluster through a subprocess (restarted if it dies); ``None`` when
    no answer came in time."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self._args = ("probe", bootstrap, group)
        self._proc = _helper(*self._args)
        self.restarts = 0

    def ask(self, request: str, timeout: float = 15.0) -> Any:
        proc = self._proc
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(request + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            line = proc.stdout.readline() if ready else ""
        except (BrokenPipeError, OSError):
            line = ""
        if line:
            return json.loads(line)
        proc.kill()  # dead or stuck: a new one answers the next question
        proc.wait()
        self.restarts += 1
        self._proc = _helper(*self._args)
        return None

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()


class Feeder:
    """RandomFeeder in a subprocess: ``stop()`` returns how many records were acknowledged."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._proc = _helper("feed", bootstrap, topic, str(RATE), str(SEED))

    def stop(self) -> int:
        out, _ = self._proc.communicate(timeout=120)
        assert self._proc.returncode == 0, "the feeder failed"
        return int(out.strip())


class Run:
    def __init__(self, cluster: Cluster, tmp: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.cluster, self.tmp = cluster, tmp
        self.src, self.out, self.app_id = f"ceos-in-{tag}", f"ceos-out-{tag}", f"ceos-{tag}"
        admin = Admin(cluster.bootstrap)  # while every broker is up; dropped before the faults
        admin.ensure_topic(self.src, PARTITIONS, {})
        for suffix in OUTPUTS:
            admin.ensure_topic(f"{self.out}-{suffix}", PARTITIONS, {})
        del admin
        self.outputs = [f"{self.out}-{s}" for s in OUTPUTS]
        self.probe = Probe(cluster.bootstrap, self.app_id)
        self.workers: list[WorkerProcess] = []
        self.starts = 0
        self._restarting: threading.Thread | None = None
        self._restart_error: Exception | None = None
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

    def fail(self, why: str) -> None:
        """Fail with every worker's stacks (alive ones dump them on SIGUSR1) and log tail."""
        dumping = [w for w in self.workers if w.alive()]
        for w in dumping:
            w.proc.send_signal(signal.SIGUSR1)
        # the dump is written by each worker's own signal handler: until it is in every log
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not all(
            "most recent call first" in w.output() for w in dumping if w.alive()
        ):
            time.sleep(0.1)
        tails = "\n".join(
            f"--- worker {i} ({'alive' if w.alive() else f'exit {w.proc.returncode}'}), "
            f"{w.log.name}:\n{_quiet(w.output())[-5000:]}"
            for i, w in enumerate(self.workers)
        )
        raise AssertionError(f"{why}\n{tails}")

    def assert_all_alive(self) -> None:
        if not all(w.alive() for w in self.workers):
            self.fail("a worker died by itself")

    def committed(self, timeout: float = 120) -> dict[int, int]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.probe.ask(f"committed {self.src} {PARTITIONS}")
            if got is not None:
                return {int(p): o for p, o in got.items()}
            self.assert_all_alive()
            if time.monotonic() > deadline:
                self.fail(f"the group's committed offsets were unreadable for {timeout:.0f} s")

    def resumed_after(self, before: dict[int, int], timeout: float = 120) -> float:
        """Seconds until the group commits past ``before`` on every input partition, while
        every worker lives."""
        start = time.monotonic()
        while True:
            self.assert_all_alive()
            now = self.committed()
            if all(now.get(p, 0) > before.get(p, 0) for p in range(PARTITIONS)):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                self.fail(f"no progress in {timeout:.0f} s since {before}: {now}")
            time.sleep(0.2)

    def await_taken_over(
        self, partitions: list[str], marks: dict[int, int], timeout: float = 60
    ) -> None:
        """Until another worker logs an assignment of one of ``partitions`` after ``marks``
        (the lengths of their logs when the zombie was frozen)."""
        wanted = {f"{self.src}[{p}]" for p in partitions}
        deadline = time.monotonic() + timeout
        while not any(
            wanted & set(re.findall(rf"{re.escape(self.src)}\[\d+\]", line))
            for j, mark in marks.items()
            for line in ASSIGNED.findall(self.workers[j].output()[mark:])
        ):
            self.assert_all_alive()
            if time.monotonic() > deadline:
                self.fail(f"no worker took over the frozen worker's partitions {partitions}")
            time.sleep(0.2)

    def await_processing(self, i: int, timeout: float = 120) -> list[str]:
        """Until worker ``i`` owns input partitions and commits on them with no rebalance
        or restoration in its log for 2 s: it is processing, inside a transaction (frozen
        during a restoration instead, it would hold none to be refused)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.workers[i].output()
            events = len(REBALANCE.findall(log))
            assigned = ASSIGNED.findall(log)
            owned = re.findall(rf"{re.escape(self.src)}\[(\d+)\]", assigned[-1]) if assigned else []
            before = self.committed()
            time.sleep(2.0)
            now = self.committed()
            if (
                owned
                and len(REBALANCE.findall(self.workers[i].output())) == events
                and all(now.get(int(p), 0) > before.get(int(p), 0) for p in owned)
            ):
                return owned
            self.assert_all_alive()
            if time.monotonic() > deadline:
                self.fail(f"worker {i} did not settle to processing in {timeout:.0f} s")

    def progress_within(self, before: dict[int, int], seconds: float) -> float | None:
        """Watch for ``seconds``: when the group first committed past ``before`` on every
        input partition, or None."""
        start = time.monotonic()
        first = None
        while time.monotonic() - start < seconds:
            now = self.probe.ask(f"committed {self.src} {PARTITIONS}") or {}
            if first is None and all(
                now.get(str(p), 0) > before.get(p, 0) for p in range(PARTITIONS)
            ):
                first = time.monotonic() - start
            time.sleep(0.2)
        return first

    def leader_to_kill(self) -> int:
        """The broker leading the most output and transaction-log partitions."""
        while True:
            led = self.probe.ask(f"leaders __transaction_state,{','.join(self.outputs)}")
            if led:
                return int(max(led, key=lambda b: led[b]))

    def restart(self, node: int) -> None:
        def start() -> None:
            try:
                self.cluster.start_node(node)
            except Exception as exc:  # reported by await_restarted
                self._restart_error = exc

        self._restart_error = None
        self._restarting = threading.Thread(target=start, daemon=True)
        self._restarting.start()

    def await_restarted(self, timeout: float = 240) -> None:
        """The broker restarted last is up and every partition fully replicated again."""
        if self._restarting is None:
            return
        self._restarting.join(timeout)
        assert not self._restarting.is_alive(), "the broker did not restart in time"
        assert self._restart_error is None, f"the broker did not restart: {self._restart_error}"
        self._restarting = None
        deadline = time.monotonic() + timeout
        topics = ",".join([self.src, *self.outputs])
        while self.probe.ask(f"replicated {topics}") is not True:
            assert time.monotonic() < deadline, "the restarted broker never caught up"
            time.sleep(0.5)


def _quiet(log: str) -> str:
    """A worker's log without librdkafka's connection chatter."""
    return "\n".join(line for line in log.splitlines() if not line.startswith("%"))


def test_cluster_eos_survives_worker_kills_broker_bounces_and_a_zombie(
    cluster: Cluster, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    run = Run(cluster, tmp_path)
    feeder = Feeder(cluster.bootstrap, run.src)
    run.resumed_after({}, timeout=180)  # every partition processed once: the group is up
    faults = ["kill"] * KILLS + ["bounce"] * BOUNCES + ["zombie"]
    rng.shuffle(faults)
    resume: dict[str, list[float]] = {"kill": [], "wipe": [], "bounce": [], "zombie": []}
    refused = 0
    t0 = time.monotonic()
    for n, fault in enumerate(faults):
        wipe = False
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
            run.await_restarted()  # the previous bounce's broker is back and caught up
            node = run.leader_to_kill()
            cluster.kill_node(node)
            resume["bounce"].append(run.resumed_after(before, timeout=180))
            run.restart(node)  # in the background: the next faults overlap its catch-up
        else:
            # after a bounce the group coordinator may be moving: one that is not yet
            # watching sessions lets a frozen member keep its partitions (seen once)
            run.await_restarted()
            i = rng.randrange(WORKERS)
            zombie = run.workers[i]
            owned = run.await_processing(i)  # so it is frozen inside an open transaction
            before = run.committed()
            seen = len(zombie.output())
            others = {j: len(w.output()) for j, w in enumerate(run.workers) if j != i}
            zombie.proc.send_signal(signal.SIGSTOP)
            # the fault itself: frozen past max.poll.interval.ms; meanwhile the others take
            # over its partitions (time to resume: until they commit past ``before``)
            took = run.progress_within(before, POLL_MS / 1000 + 4)
            run.await_taken_over(owned, others)  # else it would still be a member, no zombie
            zombie.proc.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 60
            # refused: its transaction fails at its next produce or commit, never commits
            while not REFUSED.search(zombie.output()[seen:]):
                run.assert_all_alive()
                if time.monotonic() > deadline:
                    run.fail("the zombie never tried to commit")
                time.sleep(0.2)
            refused += 1
            stopped = POLL_MS / 1000 + 4
            resume["zombie"].append(
                took if took is not None else stopped + run.resumed_after(before)
            )
        kind = "wipe" if fault == "kill" and wipe else fault
        print(
            f"fault {n + 1}/{len(faults)}: {kind} at {time.monotonic() - t0:.0f} s, "
            f"resumed in {resume[kind][-1]:.1f} s",
            flush=True,
        )
        time.sleep(rng.uniform(0.2, 1.5))  # the fault's own timing: not a synchronisation
    run.await_restarted()
    run.assert_all_alive()
    sent = feeder.stop()
    run.probe.close()
    elapsed = time.monotonic() - t0
    admin = Admin(cluster.bootstrap)  # every broker is back: clients in this process again
    internal = tuple(
        t for t in admin.client.list_topics(timeout=30).topics if t.startswith(run.app_id)
    )
    # outputs first (the workers are still running and catch up), then a clean stop
    verdict = verify_stateful(cluster.bootstrap, run.app_id, run.src, run.out, sent, internal)
    for w in run.workers:
        try:
            code = w.terminate()
        except subprocess.TimeoutExpired:
            run.fail("a worker hung on SIGTERM")
        assert code == 0, _quiet(w.output())[-6000:]
    every = [s for series in resume.values() for s in series]
    print(
        f"\n{KILLS} worker SIGKILLs ({len(resume['wipe'])} on wiped state), {BOUNCES} broker "
        f"bounces, {refused} zombie refused; {sent} inputs in {elapsed:.0f} s; "
        f"{verdict.aborted} aborted sums records; 0 dup/lost/wrong; "
        f"{run.probe.restarts} probe restarts; load {os.getloadavg()[0]:.1f}. Resume (s): "
        + "; ".join(
            f"{k} p50 {statistics.median(v):.1f} p99 {_p99(v):.1f} max {max(v):.1f}"
            for k, v in resume.items()
            if v
        )
        + f"; all p50 {statistics.median(every):.1f} p99 {_p99(every):.1f}"
    )
    assert refused == 1, "the zombie was not refused"
    assert verdict.aborted > 0, "no kill landed inside an open transaction"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
