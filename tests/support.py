"""Helpers for tests that talk to the real broker: produce, read back, run workers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from confluent_kafka import Consumer, Producer, TopicPartition

from streamlet.kafka.admin import Admin

from apps import value_json

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def producer(bootstrap: str, **extra: Any) -> Producer:
    # murmur2_random: the same key -> partition mapping as streamlet's own producer
    return Producer(
        {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5, **extra}
    )


def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None]],
    partition: int | None = None,
    timestamps: Sequence[int] | None = None,
) -> None:
    p = producer(bootstrap)
    for i, (key, value) in enumerate(records):
        kwargs: dict[str, Any] = {}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamps is not None:
            kwargs["timestamp"] = timestamps[i]
        while True:
            try:
                p.produce(topic, value, key, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
    assert p.flush(30) == 0


@dataclass(frozen=True)
class Msg:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...]


def read_all(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    timeout: float = 60.0,
    committed: bool = True,
    idle: float = 2.0,
) -> list[Msg]:
    """Every record of ``topic`` from the beginning, until ``expect`` arrived (then a short
    settle to catch extras) or, without ``expect``, until ``idle`` seconds pass quietly."""
    admin = Admin(bootstrap)
    info = admin.describe([topic])[topic]
    assert info is not None, f"topic {topic} does not exist"
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed" if committed else "read_uncommitted",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    c.assign([TopicPartition(topic, p, 0) for p in range(info.partitions)])
    out: list[Msg] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = c.consume(num_messages=5000, timeout=0.2)
            now = time.monotonic()
            if batch:
                quiet_since = now
            for m in batch:
                if m.error() is None:
                    out.append(
                        Msg(
                            m.partition(),
                            m.offset(),
                            m.key(),
                            m.value(),
                            m.timestamp()[1],
                            tuple(m.headers() or ()),
                        )
                    )
            if expect is not None and len(out) >= expect and now - quiet_since > 0.5:
                break
            if expect is None and now - quiet_since > idle:
                break
    finally:
        c.close()
    return out


def by_partition(msgs: Iterable[Msg]) -> dict[int, list[Msg]]:
    out: dict[int, list[Msg]] = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        out.setdefault(m.partition, []).append(m)
    return out


def assert_no_open_transactions(bootstrap: str, *topics: str) -> None:
    admin = Admin(bootstrap)
    for topic in topics:
        deadline = time.monotonic() + 30
        while True:
            stable = admin.end_offsets(topic, committed_only=True)
            high = admin.end_offsets(topic, committed_only=False)
            if stable == high:
                break
            assert time.monotonic() < deadline, (
                f"open transaction on {topic}: LSO {stable} HWM {high}"
            )
            time.sleep(0.5)


FAST_GROUP = "session.timeout.ms=6000,heartbeat.interval.ms=500"
"""Client settings for workers in tests: a dead member leaves the group within 6 s."""


def worker_env(
    bootstrap: str,
    app_id: str,
    src: str,
    out: str,
    state: Path,
    *,
    commit_ms: int,
    config: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment the test apps (``apps*.py``) read their configuration from."""
    env = {
        "APP_ID": app_id,
        "IN": src,
        "OUT": out,
        "BOOTSTRAP": bootstrap,
        "COMMIT_MS": str(commit_ms),
        "STATE_DIR": str(state),
        **extra,
    }
    if config is not None:
        env["CONFIG"] = config
    return env


class WorkerProcess:
    """``streamlet run <module>:<factory>`` as a real subprocess, configured by environment
    (``module`` is a test app module beside this file: apps, apps_state, apps_dlq)."""

    module = "apps"
    live: ClassVar[list[WorkerProcess]] = []  # every worker started: a failed test leaks none

    def __init__(self, factory: str, env: dict[str, str], log: Path, *extra: str) -> None:
        self.log = log
        full_env = {**os.environ, **env, "PYTHONPATH": f"{TESTS}{os.pathsep}{ROOT}"}
        self._log_file = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlet", "run", f"{self.module}:{factory}", *extra],
            cwd=TESTS,
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        WorkerProcess.live.append(self)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log_file.close()

    def terminate(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log_file.close()
        return code

    def wait(self, timeout: float = 60.0) -> int:
        code = self.proc.wait(timeout)
        self._log_file.close()
        return code

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner picks for ``key``."""
    m, r, length = 0x5BD1E995, 24, len(key)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = key[length - length % 4 :]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def key_for_partition(partition: int, partitions: int, prefix: str = "k") -> bytes:
    """A key that murmur2 sends to ``partition``."""
    for i in range(10_000):
        key = f"{prefix}{i}".encode()
        if murmur2_partition(key, partitions) == partition:
            return key
    raise AssertionError("no key found")


class Feeder(threading.Thread):
    """Produces records in batches at a steady ``rate`` (records/s) until stopped, through an
    idempotent producer; a subclass says what record ``n`` is in ``feed(n)``."""

    batch = 10

    def __init__(self, bootstrap: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.producer = producer(bootstrap, **{"enable.idempotence": True})
        self._rate = rate
        self._halt = threading.Event()
        self.count = 0

    def feed(self, n: int) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self._halt.is_set():
            for _ in range(self.batch):
                self.feed(self.count)
                self.count += 1
            self.producer.poll(0)
            time.sleep(self.batch / self._rate)
        assert self.producer.flush(30) == 0

    def stop(self) -> int:
        """Stop, deliver what was produced, and return how many records were."""
        self._halt.set()
        self.join(60)
        return self.count


class InputFeeder(Feeder):
    """``{"seq": n}`` under 97 rotating keys."""

    def __init__(self, bootstrap: str, topic: str, rate: int) -> None:
        super().__init__(bootstrap, rate)
        self._topic = topic

    def feed(self, n: int) -> None:
        self.producer.produce(self._topic, value_json(n), f"key-{n % 97}".encode())


class RandomFeeder(Feeder):
    """``{"value": 0..999}`` under one of ``keys`` random keys, reproducible from ``seed``."""

    batch = 20

    def __init__(self, bootstrap: str, topic: str, rate: int, seed: int, keys: int = 2000) -> None:
        super().__init__(bootstrap, rate)
        self._topic, self._rng, self._keys = topic, random.Random(seed), keys

    def feed(self, n: int) -> None:
        key = f"key-{self._rng.randrange(self._keys)}".encode()
        value = json.dumps({"value": self._rng.randrange(1000)}).encode()
        self.producer.produce(self._topic, value, key)


def wait_for_progress(bootstrap: str, topic: str, worker: WorkerProcess) -> None:
    """Until ``topic`` grows (committed or not) while ``worker`` lives; at most 60 s."""
    admin = Admin(bootstrap)
    before = sum(admin.end_offsets(topic, committed_only=False).values())
    deadline = time.monotonic() + 60
    while sum(admin.end_offsets(topic, committed_only=False).values()) <= before:
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, "worker made no progress:\n" + worker.output()
        time.sleep(0.1)


def wait_logged(worker: WorkerProcess, needle: str, count: int = 1, timeout: float = 60) -> str:
    """Until ``worker``'s log holds ``needle`` at least ``count`` times, while it lives;
    returns the log."""
    deadline = time.monotonic() + timeout
    while (log := worker.output()).count(needle) < count:
        assert worker.alive(), log
        assert time.monotonic() < deadline, f"no {count} x {needle!r} in {timeout} s:\n{log}"
        time.sleep(0.1)
    return log


def wait_for_committed(
    bootstrap: str, group: str, topic: str, at_least: int, who: WorkerProcess, timeout: float = 90
) -> None:
    """Until ``group`` has committed ``at_least`` offsets of ``topic`` while ``who`` lives."""
    admin = Admin(bootstrap)
    deadline = time.monotonic() + timeout
    while sum(admin.committed_offsets(group, topic).values()) < at_least:
        assert who.alive(), who.output()
        assert time.monotonic() < deadline, f"no commit of {at_least} records:\n{who.output()}"
        time.sleep(0.2)
