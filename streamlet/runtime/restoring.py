"""Pending tasks: assigned to this worker, not running yet.

A task assigned in a rebalance does not restore inside the rebalance callback: a member
stuck there cannot take part in the next rebalance, and the group evicts it after its
``max.poll.interval.ms``. As in Kafka Streams, the callback only registers the task here and
pauses its input partitions; then each iteration of the poll loop calls ``step()``, which

1. opens the stores of tasks not yet open: a lock still held by a stalled sibling on the same
   state dir is retried later with backoff (``lockwait.py``);
2. advances the changelog replay by a bounded slice (``restore.Restoration``);
3. starts each task whose stores all reached their ends, and resumes its partitions.

The main consumer keeps polling meanwhile (paused partitions return nothing, the poll keeps
the membership alive). Revocation closes pending tasks' stores: restoration writes each
batch with the offset it reflects, so what is on disk is a committed prefix of the changelog.
This module owns pausing for restoration; nothing else pauses partitions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import TopicPartition

from streamlet.errors import StoreLockedError
from streamlet.runtime.lockwait import LockWaits
from streamlet.runtime.restore import RestoreTarget
from streamlet.runtime.task import Task
from streamlet.topology.topology import SubTopology

log = logging.getLogger(__name__)

_Key = tuple[str, int]  # (changelog, partition)

# the longest one loop iteration spends restoring: well below any max.poll.interval.ms
# (at least session.timeout.ms, at least 6 s by the broker's default)
_SLICE_RUNNING_S = 0.3
_SLICE_ALONE_S = 2.0

OpenStores = Callable[[str, SubTopology, int], list[RestoreTarget]]
StartTask = Callable[[SubTopology, int, list[RestoreTarget]], Task]


class Pausable(Protocol):
    """What this module needs of the group consumer."""

    def pause(self, partitions: list[TopicPartition]) -> None: ...

    def resume(self, partitions: list[TopicPartition]) -> None: ...


class Replay(Protocol):
    """What this module needs of the changelog replay (``restore.Restoration``)."""

    def add(self, targets: list[RestoreTarget]) -> None: ...

    def remove(self, targets: list[RestoreTarget]) -> None: ...

    def step(self, slice_s: float) -> list[tuple[RestoreTarget, int]]: ...


@dataclass
class _Pending:
    sub: SubTopology
    partition: int
    inputs: list[TopicPartition] = field(default_factory=list)
    targets: list[RestoreTarget] | None = None  # None: its stores are not open yet
    restoring: set[_Key] = field(default_factory=set)  # changelogs not at their end yet


class PendingTasks:
    """The tasks of this worker that are opening their stores or restoring, by task id.

    ``start_task`` builds the running task from its restored stores; ``record_end`` hears
    the end offset each changelog partition was restored to."""

    def __init__(
        self,
        consumer: Pausable,
        replay: Replay,
        sub_of_topic: Mapping[str, SubTopology],
        open_stores: OpenStores,
        start_task: StartTask,
        record_end: Callable[[str, int, int], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._replay = replay
        self._sub_of_topic = sub_of_topic
        self._open_stores = open_stores
        self._start_task = start_task
        self._record_end = record_end
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._locks = LockWaits()
        self._owner: dict[_Key, str] = {}  # changelog partition -> task id restoring it

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._pending

    def assign(self, partitions: list[TopicPartition]) -> None:
        """Register the tasks of newly assigned ``partitions`` and pause those (they resume
        when their task starts)."""
        for tp in partitions:
            sub = self._sub_of_topic[tp.topic]
            task_id = f"{sub.id}_{tp.partition}"
            pending = self._pending.setdefault(task_id, _Pending(sub, tp.partition))
            pending.inputs.append(TopicPartition(tp.topic, tp.partition))
        if partitions:
            self._consumer.pause(partitions)

    def step(self, running: bool) -> list[tuple[Task, list[TopicPartition]]]:
        """Open what can be opened, advance restoration a bounded slice, and start (and
        resume) the tasks that are ready; returns each started task with its partitions.
        ``running``: other tasks of the worker run meanwhile (shorter slices, for their
        latency; without them a longer slice saves the loop's idle polls)."""
        self._open_due()
        for target, end in self._replay.step(_SLICE_RUNNING_S if running else _SLICE_ALONE_S):
            self._record_end(target.changelog, target.partition, end)
            key = (target.changelog, target.partition)
            task_id = self._owner.pop(key, None)
            if task_id is not None:
                self._pending[task_id].restoring.discard(key)
        return self._start_ready()

    def partitions(self) -> list[TopicPartition]:
        """Every input partition of every pending task."""
        return [tp for p in self._pending.values() for tp in p.inputs]

    def close(self) -> None:
        """Forget every pending task (revoked, lost, or the worker stops), closing the stores
        that were open."""
        for task_id, pending in self._pending.items():
            if pending.targets is None:
                continue
            self._replay.remove(pending.targets)
            for target in pending.targets:
                target.buffered.close()
            if pending.restoring:
                log.info("task %s closed while restoring", task_id)
        self._pending.clear()
        self._owner.clear()
        self._locks.clear()

    def _open_due(self) -> None:
        now = self._clock()
        for task_id, pending in self._pending.items():
            if pending.targets is not None or not self._locks.due(task_id, now):
                continue
            try:
                targets = self._open_stores(task_id, pending.sub, pending.partition)
            except StoreLockedError as exc:
                self._locks.failed(task_id, exc, now)
                continue
            self._locks.acquired(task_id, now)
            pending.targets = targets
            logged = [t for t in targets if t.changelog]
            pending.restoring = {(t.changelog, t.partition) for t in logged}
            for key in pending.restoring:
                self._owner[key] = task_id
            self._replay.add(logged)

    def _start_ready(self) -> list[tuple[Task, list[TopicPartition]]]:
        ready = [
            task_id
            for task_id, p in self._pending.items()
            if p.targets is not None and not p.restoring
        ]
        started: list[tuple[Task, list[TopicPartition]]] = []
        for task_id in ready:
            pending = self._pending.pop(task_id)
            task = self._start_task(pending.sub, pending.partition, pending.targets or [])
            started.append((task, pending.inputs))
            self._consumer.resume(pending.inputs)
        return started
