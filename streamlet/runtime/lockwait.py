"""Tasks waiting for their store locks: the previous owner (a stalled sibling worker on the
same state dir) has not closed them yet.

As Kafka Streams does, the new owner does not fail: it keeps the task's input partitions
paused and retries the lock from the poll loop with exponential backoff until the old owner
notices it lost the task and releases it (or the task moves on again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from streamlet.errors import StoreLockedError
from streamlet.topology.topology import SubTopology

log = logging.getLogger(__name__)

_FIRST_S = 0.1
_MAX_S = 5.0
_WARN_EVERY_S = 30.0


@dataclass
class _Waiting:
    sub: SubTopology
    partition: int
    since: float
    next_try: float
    delay: float = _FIRST_S
    warned: float = 0.0
    partitions: list[TopicPartition] = field(default_factory=list)


class LockWaits:
    """The tasks of this worker whose stores are still locked elsewhere, by task id."""

    def __init__(self) -> None:
        self._waiting: dict[str, _Waiting] = {}

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._waiting

    def add(
        self, task_id: str, sub: SubTopology, partition: int, exc: StoreLockedError, now: float
    ) -> None:
        """Start waiting for ``task_id`` (its first open failed with ``exc``)."""
        log.warning(
            "task %s: %s; waiting for its lock (the previous owner must release it)",
            task_id,
            exc,
        )
        self._waiting[task_id] = _Waiting(sub, partition, now, now + _FIRST_S, warned=now)

    def add_partition(self, task_id: str, tp: TopicPartition) -> None:
        """An input partition of a waiting task (paused until the task opens)."""
        self._waiting[task_id].partitions.append(TopicPartition(tp.topic, tp.partition))

    def due(self, now: float) -> list[tuple[str, SubTopology, int]]:
        """The waiting tasks whose next attempt is due."""
        return [(t, w.sub, w.partition) for t, w in self._waiting.items() if w.next_try <= now]

    def retry_later(self, task_id: str, exc: StoreLockedError, now: float) -> None:
        """The attempt failed again: back off (doubling, up to 5 s), warn now and then."""
        w = self._waiting[task_id]
        w.delay = min(w.delay * 2, _MAX_S)
        w.next_try = now + w.delay
        if now - w.warned >= _WARN_EVERY_S:
            w.warned = now
            log.warning(
                "task %s still waiting for its lock after %.0f s: %s", task_id, now - w.since, exc
            )

    def pop(self, task_id: str, now: float) -> list[TopicPartition]:
        """Stop waiting (the task opened); returns its input partitions to resume."""
        w = self._waiting.pop(task_id)
        log.info("task %s: lock acquired after %.1f s", task_id, now - w.since)
        return w.partitions

    def partitions(self) -> list[TopicPartition]:
        """Every input partition of every waiting task."""
        return [tp for w in self._waiting.values() for tp in w.partitions]

    def clear(self) -> None:
        """Forget every waiting task (its partitions were revoked or lost)."""
        self._waiting.clear()
