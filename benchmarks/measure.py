"""What the harness sees: an engine's output topic, read as a ``read_committed`` consumer would.

``OutputWatcher`` runs one consumer in a thread, assigned to every partition of the output
topic, and hands each batch to a tracker together with the wall-clock time the batch became
visible to it. Trackers only count; they never block.
"""

from __future__ import annotations

import math
import threading
import time
from types import TracebackType
from typing import Protocol

from confluent_kafka import Consumer, Message, TopicPartition


class Tracker(Protocol):
    def on_batch(self, messages: list[Message], seen_at: float) -> None:
        """Called on the watcher's thread with the valid (non-error) messages of one batch."""


class CompletionTracker:
    """When the whole output of a throughput run is visible.

    W1 (``summing=False``) is complete when ``target`` records are visible. W2/W3 are complete
    when the latest visible count of every key adds up to ``target`` (the input size): engines
    that cache (Kafka Streams) emit fewer updates than inputs, but every engine's last update
    per key is that key's full count.
    """

    def __init__(self, target: int, summing: bool, ignore: bytes | None = None) -> None:
        self.target = target
        self.summing = summing
        self._ignore = ignore  # a key prefix: W4's ticks
        self.progress = 0
        self.messages = 0  # every output record seen, until the watcher stops
        self.done_at: float | None = None
        self.last_seen_at: float | None = None
        self._latest: dict[bytes | None, int] = {}

    def on_batch(self, messages: list[Message], seen_at: float) -> None:
        self.messages += len(messages)
        if self.summing:
            latest = self._latest
            total = self.progress
            ignore = self._ignore
            for msg in messages:
                key = msg.key()
                if ignore is not None and key is not None and key.startswith(ignore):
                    self.messages -= 1
                    continue
                count = int.from_bytes(msg.value() or b"", "big", signed=True)
                total += count - latest.get(key, 0)
                latest[key] = count
            self.progress = total
        else:
            self.progress += len(messages)
        self.last_seen_at = seen_at
        if self.done_at is None and self.progress >= self.target:
            self.done_at = seen_at

    def latest(self) -> dict[bytes | None, int]:
        """The last count seen per key (summing trackers only)."""
        return dict(self._latest)


class ClosedWindowsTracker:
    """When every window of W4's data is visible (emit on close): ``target`` distinct
    windowed keys. Also what proves the output right: the sum of the windows' counts, and
    how many windows came out more than once (exactly-once emission means none)."""

    def __init__(self, target: int, ignore: bytes) -> None:
        self.target = target
        self._ignore = ignore  # a key prefix: W4's ticks (their window never closes anyway)
        self.progress = 0
        self.messages = 0
        self.count_sum = 0
        self.repeated = 0
        self.done_at: float | None = None
        self.last_seen_at: float | None = None
        self._seen: set[bytes | None] = set()

    def on_batch(self, messages: list[Message], seen_at: float) -> None:
        self.messages += len(messages)
        seen = self._seen
        for msg in messages:
            key = msg.key()
            if key is None or key.startswith(self._ignore):
                self.messages -= 1
                continue
            if key in seen:
                self.repeated += 1
                continue
            seen.add(key)
            self.count_sum += int.from_bytes(msg.value() or b"", "big", signed=True)
        self.progress = len(seen)
        self.last_seen_at = seen_at
        if self.done_at is None and self.progress >= self.target:
            self.done_at = seen_at


class LatencyTracker:
    """Visibility time minus produce time (the record timestamp) of the outputs whose
    timestamp lies in the measured window ``[since_ms, until_ms]``; every engine here carries
    the input record's timestamp to its output."""

    def __init__(self) -> None:
        self.since_ms = math.inf
        self.until_ms = math.inf
        self.first_seen_at: float | None = None
        self.max_timestamp_ms = 0
        self.samples_ms: list[float] = []

    def on_batch(self, messages: list[Message], seen_at: float) -> None:
        if self.first_seen_at is None:
            self.first_seen_at = seen_at
        seen_ms = seen_at * 1000.0
        for msg in messages:
            timestamp = msg.timestamp()[1]
            self.max_timestamp_ms = max(self.max_timestamp_ms, timestamp)
            if self.since_ms <= timestamp <= self.until_ms:
                self.samples_ms.append(seen_ms - timestamp)


class ProbeTracker:
    """The first output for one key: its value (a count) and when it became visible."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.value: int | None = None
        self.seen_at: float | None = None

    def on_batch(self, messages: list[Message], seen_at: float) -> None:
        if self.seen_at is not None:
            return
        for msg in messages:
            if msg.key() == self.key:
                self.value = int.from_bytes(msg.value() or b"", "big", signed=True)
                self.seen_at = seen_at
                return


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile; ``samples`` must not be empty."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class OutputWatcher:
    """A ``read_committed`` consumer over all of ``topic``, from its start or its current end."""

    def __init__(
        self, bootstrap: str, topic: str, tracker: Tracker, *, from_end: bool = False
    ) -> None:
        self._tracker = tracker
        self._stop = threading.Event()
        self.errors: list[str] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{topic}-watcher",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        partitions = self._consumer.list_topics(topic, timeout=30).topics[topic].partitions
        assignment = []
        for p in partitions:
            start = 0
            if from_end:
                start = self._consumer.get_watermark_offsets(TopicPartition(topic, p), 30)[1]
            assignment.append(TopicPartition(topic, p, start))
        self._consumer.assign(assignment)
        self._thread = threading.Thread(target=self._run, name=f"watch-{topic}", daemon=True)

    def __enter__(self) -> OutputWatcher:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            # Block for one record only, then drain what is already fetched: consume() with a
            # larger count would hold a partial batch until its timeout and skew latencies.
            batch = self._consumer.consume(1, timeout=0.1)
            if not batch:
                continue
            seen_at = time.time()
            batch += self._consumer.consume(10_000, timeout=0)
            valid = []
            for msg in batch:
                err = msg.error()
                if err is None:
                    valid.append(msg)
                elif len(self.errors) < 10:
                    self.errors.append(str(err))
            if valid:
                self._tracker.on_batch(valid, seen_at)
