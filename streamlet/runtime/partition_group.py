"""Event-time order across the input partitions of one task (Kafka Streams' PartitionGroup).

A task whose sub-topology reads several topics owns partition p of each of them. The consumer
returns records in fetch order, so processing them as fetched would let a join over a backlog
see all of one side's history before the other's. Such a task instead buffers what was
fetched, per input partition and in offset order, and processes the buffered head with the
smallest timestamp (ties: the topic the sub-topology lists first). It goes on only while every
input partition has a record buffered, or the idle rule (``AppConfig.max_task_idle_ms``, as
Kafka Streams' ``max.task.idle.ms``, KIP-353/KIP-695) lets it go on without the empty ones:

- ``-1``: never wait; process whatever is buffered.
- ``0``: do not wait for records to be produced, but do wait for records already on the broker
  to be fetched: an empty partition holds the task back until the consumer has reported that
  its fetch reached the end of the partition.
- ``> 0``: as ``0``, then wait up to that many ms more (from when the partition was first
  found empty and at its end) for new records.

Going on without an empty partition under ``0`` or ``> 0`` is counted per record
(``streamlet_enforced_processing_total``, Kafka Streams' enforced-processing metric).

"At the end" is librdkafka's partition-EOF event (``enable.partition.eof``, turned on by
:func:`consumer_settings` for topologies that need it): it comes after the last record of a
fetch that reached the end offset (under read_committed, the last stable offset), again after
every seek or resume. The consumer's position compared with its cached end offset would not
do: the position stays unknown until a record of the partition has been returned since the
assignment or the last seek, so a partition that was already caught up would be waited for
forever.

Buffered records are not processed records: a task's offsets (what the commit sends) never
pass them, so after a crash, an abort or a revocation they are fetched again; they are dropped
with their task. A task with one input partition has no group: its records go straight
through, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from heapq import heappop, heappush, heapreplace
from typing import Any, Protocol, TypeVar

from streamlet.runtime.metrics import ENFORCED
from streamlet.topology.topology import Topology


class PartitionGroup:
    """The fetched, not yet processed records of one task, one FIFO per input topic."""

    def __init__(
        self, topics: Sequence[str], event_time: Callable[[Any], int] | None = None
    ) -> None:
        # event_time(msg): the timestamp the task will process the record at, when a timestamp
        # extractor makes it other than the record's own
        self._event_time = event_time
        self._queues: dict[str, deque[tuple[int, Any]]] = {t: deque() for t in topics}
        self._rank = {t: i for i, t in enumerate(topics)}
        # (head timestamp, rank, queue) of every non-empty queue; rank breaks ties, so the
        # tuples never compare queues
        self._heads: list[tuple[int, int, deque[tuple[int, Any]]]] = []
        self._at_end: set[str] = set()  # empty on the broker as of the last fetch
        self._deadlines: dict[str, float] = {}  # stop waiting for these (monotonic seconds)
        self.enforced = 0  # records processed while an empty partition was not waited for

    def add(self, msg: Any) -> None:
        """Buffer a fetched record of one of the task's input partitions."""
        topic = msg.topic()
        queue = self._queues[topic]
        ts = msg.timestamp()[1] if self._event_time is None else self._event_time(msg)
        if not queue:
            heappush(self._heads, (ts, self._rank[topic], queue))
            self._deadlines.pop(topic, None)
        queue.append((ts, msg))
        self._at_end.discard(topic)

    def reached_end(self, topic: str) -> None:
        """The consumer's fetch of ``topic`` reached the end of the partition."""
        if topic in self._queues:
            self._at_end.add(topic)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def take(self, now: float, idle_ms: int) -> list[Any]:
        """Every record that may be processed now, in processing order, out of the buffer.
        (Processing them adds nothing to the buffer, so all choices can be made at once; if
        processing fails part-way, the task is closed and rewound, dropping the rest.)"""
        heads = self._heads
        everyone = len(self._queues)
        taken: list[Any] = []
        while heads:
            if len(heads) < everyone and idle_ms >= 0:
                if self._must_wait(now, idle_ms):
                    break
                self.enforced += 1
            _ts, rank, queue = heads[0]
            taken.append(queue.popleft()[1])
            if queue:
                heapreplace(heads, (queue[0][0], rank, queue))
            else:
                heappop(heads)
        return taken

    def _must_wait(self, now: float, idle_ms: int) -> bool:
        """Whether an empty partition holds the task back (some partition is empty)."""
        for topic, queue in self._queues.items():
            if queue:
                continue
            if topic not in self._at_end:  # records on the broker, or not known yet: fetch them
                self._deadlines.pop(topic, None)
                return True
            deadline = self._deadlines.setdefault(topic, now + idle_ms / 1000.0)
            if now < deadline:
                return True
        return False


class GroupedTask(Protocol):
    """What ``take_ready`` needs of a task."""

    task_id: str
    inputs: PartitionGroup | None


T = TypeVar("T", bound=GroupedTask)


def take_ready(tasks: Iterable[T], now: float, idle_ms: int) -> Iterator[tuple[T, list[Any]]]:
    """``(task, records)``: the buffered records each task may process now, in event-time
    order; enforced processing goes into the metric once per task."""
    for task in tasks:
        group = task.inputs
        if group is None:
            continue
        before = group.enforced
        records = group.take(now, idle_ms)
        if group.enforced != before:
            ENFORCED.labels(task.task_id).inc(group.enforced - before)
        if records:
            yield task, records


def orders_inputs(topology: Topology) -> bool:
    """Whether any task of ``topology`` reads more than one input partition."""
    return any(len(sub.source_topics) > 1 for sub in topology.subtopologies)


def consumer_settings(topology: Topology, max_task_idle_ms: int) -> Mapping[str, Any]:
    """What the worker's consumer needs set for the idle rule: partition-EOF events, when a
    task of ``topology`` may wait for an empty input partition."""
    if max_task_idle_ms >= 0 and orders_inputs(topology):
        return {"enable.partition.eof": True}
    return {}
