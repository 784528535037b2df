"""Finding the input record whose output the broker rejected.

A broker-side rejection (a record over the topic's ``max.message.bytes``, a missing or
unauthorized output topic, an invalid record) fails the whole transaction, with no link
back to the input that produced it. So the worker aborts, rewinds to the committed offsets
and reprocesses in *isolation*: one input record per transaction, until it is past every
record of the failed transaction. The record whose transaction fails is the culprit: the
production error policy applies to it (FAIL stops with its location; CONTINUE and
DEAD_LETTER mark it, and the rewound worker skips or dead-letters it instead of processing
it). The cost, a transaction per record, is paid only after such a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from streamlet.runtime.task import Task

log = logging.getLogger(__name__)


class Isolation:
    """Whether the worker runs one record per transaction, and the records it marked."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, int], int] = {}
        self._active = False
        self._poisoned: dict[tuple[str, int, int], str] = {}

    @property
    def active(self) -> bool:
        return self._active

    def start(self, tasks: Iterable[Task]) -> None:
        """Isolate until every task is past the offsets it reached in the failed transaction."""
        for task in tasks:
            for topic, offset in task.offsets.items():
                key = (topic, task.partition)
                self._until[key] = max(self._until.get(key, 0), offset)
        if not self._active:
            log.warning(
                "the broker rejected records of a transaction: reprocessing one input record "
                "per transaction to find the one that caused it"
            )
        self._active = True

    def committed(self, by_tp: dict[tuple[str, int], Task]) -> None:
        """After an isolated commit: stop isolating once every partition is past its mark."""
        for key, until in list(self._until.items()):
            task = by_tp.get(key)
            if task is None or task.offsets.get(key[0], -1) >= until:
                del self._until[key]
        if not self._until and self._active:
            self._active = False
            log.info("isolation over: back to one transaction per commit interval")

    def poison(self, topic: str, partition: int, offset: int, reason: str) -> None:
        self._poisoned[(topic, partition, offset)] = reason

    def take(self, topic: str, partition: int, offset: int) -> str | None:
        """The rejection reason if this record was found to cause one (forgotten once taken)."""
        if not self._poisoned:
            return None
        return self._poisoned.pop((topic, partition, offset), None)
