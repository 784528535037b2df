"""Prometheus metrics of a worker (names are the contract: docs/operations.md).

The worker and the committer call a ``WorkerMetrics`` at a handful of points, never per
record: consumed records are counted by the tasks (one integer per topic, read here about
once a second), produced records by the committer (added here per commit), lag is refreshed
from the consumer's cached watermarks at most every ``LAG_INTERVAL_S``.

Under ``--workers N`` each worker process writes its values to files in the directory the
supervisor names in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and
the supervisor serves them all from one endpoint (``streamlet.runtime.metrics_http``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from confluent_kafka import TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from streamlet.config import ErrorPolicy
from streamlet.errors import ProductionError, SerializationError

LAG_INTERVAL_S = 1.0

CONSUMED = Counter(
    "streamlet_records_consumed",
    "Records consumed from input topics, per task and topic.",
    ["task", "topic"],
)
PRODUCED = Counter(
    "streamlet_records_produced",
    "Records produced and committed (output, repartition, changelog, dead-letter), per topic.",
    ["topic"],
)
COMMITS = Counter("streamlet_commits", "Commits (transactions committed under exactly-once).")
ABORTS = Counter("streamlet_aborts", "Transactions aborted.")
COMMIT_DURATION = Histogram(
    "streamlet_commit_duration_seconds",
    "Time one commit takes (changelogs, offsets, commit, store flush).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
# livesum: a partition's lag is set by its owner; the other workers hold 0 for it
LAG = Gauge(
    "streamlet_consumer_lag_records",
    "Records between the consumer's position and the end offset, per input partition.",
    ["topic", "partition"],
    multiprocess_mode="livesum",
)
REBALANCES = Counter("streamlet_rebalances", "Partition assignments received by workers.")
RESTORED = Counter(
    "streamlet_restored_records",
    "Changelog records replayed into state stores, per store.",
    ["store"],
)
DROPPED = Counter(
    "streamlet_dropped_records",
    "Records skipped, by reason: an error policy of CONTINUE, or an operator's semantics "
    "(a join's null key or value).",
    ["reason"],
)
DEAD_LETTERS = Counter(
    "streamlet_dead_letters",
    "Records sent to the dead-letter topic by an error policy of DEAD_LETTER.",
)


class CountingTask(Protocol):
    """What the metrics read of a task: its id, its records consumed per topic and the
    records its operators dropped per reason."""

    task_id: str
    consumed: dict[str, int]
    dropped: dict[str, int]


def error_reason(exc: BaseException) -> str:
    """The ``reason`` label of a record an error policy dropped."""
    if isinstance(exc, SerializationError):
        return "deserialization_error"
    if isinstance(exc, ProductionError):
        return "production_error"
    return "processing_error"


class WorkerMetrics:
    """The metrics hooks of one worker; cheap enough to call per batch or per commit."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._next_lag = 0.0
        self._lag_labels: set[tuple[str, str]] = set()

    # -- consumption --------------------------------------------------------------------
    def take_consumed(self, tasks: Iterable[CountingTask]) -> None:
        """Move what the tasks counted since the last call into the counters."""
        for task in tasks:
            counts = task.consumed
            for topic, n in counts.items():
                if n:
                    CONSUMED.labels(task.task_id, topic).inc(n)
                    counts[topic] = 0
            dropped = task.dropped
            for reason, n in dropped.items():
                if n:
                    DROPPED.labels(reason).inc(n)
                    dropped[reason] = 0

    def tick(self, consumer: Any, tasks: Iterable[CountingTask]) -> None:
        """Called once per loop iteration; does its work at most every LAG_INTERVAL_S."""
        now = self._clock()
        if now < self._next_lag:
            return
        self._next_lag = now + LAG_INTERVAL_S
        self.take_consumed(tasks)
        self.refresh_lag(consumer)

    def refresh_lag(self, consumer: Any) -> None:
        """Lag per assigned partition from the consumer's own view: the end offset of the last
        fetch response (no broker round trip) minus the position; 0 for partitions no longer
        assigned here, so the owner's value is the one summed across workers."""
        assigned: list[TopicPartition] = consumer.assignment()
        seen: set[tuple[str, str]] = set()
        for tp in consumer.position(assigned) if assigned else ():
            labels = (tp.topic, str(tp.partition))
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            lag = _lag(tp.offset, _low, high)
            if lag is None:
                continue  # nothing fetched yet: unknown, not zero
            LAG.labels(*labels).set(lag)
            seen.add(labels)
        for labels in self._lag_labels - seen:
            LAG.labels(*labels).set(0)
        self._lag_labels |= seen

    def rebalanced(self) -> None:
        REBALANCES.inc()

    # -- commits ------------------------------------------------------------------------
    def committed(self, seconds: float, produced: Mapping[str, int]) -> None:
        COMMITS.inc()
        COMMIT_DURATION.observe(seconds)
        for topic, n in produced.items():
            PRODUCED.labels(topic).inc(n)

    def aborted(self) -> None:
        ABORTS.inc()

    # -- state and errors ---------------------------------------------------------------
    def restored(self, store: str, records: int) -> None:
        RESTORED.labels(store).inc(records)

    def policy_applied(self, exc: BaseException, policy: ErrorPolicy) -> None:
        """A record was skipped or dead-lettered by an error policy."""
        if policy is ErrorPolicy.DEAD_LETTER:
            DEAD_LETTERS.inc()
        else:
            DROPPED.labels(error_reason(exc)).inc()


def _lag(position: int, low: int, high: int) -> int | None:
    if high < 0:
        return None
    if position < 0:  # nothing consumed since the assignment: known only when empty
        return 0 if low >= high else None
    return max(0, high - position)
