"""Backoff for tasks waiting for their store locks: the previous owner (a stalled sibling
worker on the same state dir) has not closed them yet.

As Kafka Streams does, the new owner does not fail: its task stays pending (input partitions
paused, see ``restoring.py``) and the lock is retried from the poll loop with exponential
backoff until the old owner notices it lost the task and releases it (or the task moves on
again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streamlet.errors import StoreLockedError

log = logging.getLogger(__name__)

_FIRST_S = 0.1
_MAX_S = 5.0
_WARN_EVERY_S = 30.0


@dataclass
class _Waiting:
    since: float
    next_try: float
    delay: float = _FIRST_S
    warned: float = 0.0


class LockWaits:
    """The tasks of this worker whose stores are still locked elsewhere, by task id."""

    def __init__(self) -> None:
        self._waiting: dict[str, _Waiting] = {}

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._waiting

    def failed(self, task_id: str, exc: StoreLockedError, now: float) -> None:
        """An attempt to open ``task_id``'s stores failed: wait (the first time) or back off
        (doubling, up to 5 s), warning now and then."""
        w = self._waiting.get(task_id)
        if w is None:
            log.warning(
                "task %s: %s; waiting for its lock (the previous owner must release it)",
                task_id,
                exc,
            )
            self._waiting[task_id] = _Waiting(now, now + _FIRST_S, warned=now)
            return
        w.delay = min(w.delay * 2, _MAX_S)
        w.next_try = now + w.delay
        if now - w.warned >= _WARN_EVERY_S:
            w.warned = now
            log.warning(
                "task %s still waiting for its lock after %.0f s: %s", task_id, now - w.since, exc
            )

    def due(self, task_id: str, now: float) -> bool:
        """Whether an attempt to open ``task_id`` may be made now (always, when not waiting)."""
        w = self._waiting.get(task_id)
        return w is None or w.next_try <= now

    def acquired(self, task_id: str, now: float) -> None:
        """The task's stores opened: stop waiting, if it was."""
        w = self._waiting.pop(task_id, None)
        if w is not None:
            log.info("task %s: lock acquired after %.1f s", task_id, now - w.since)

    def clear(self) -> None:
        """Forget every waiting task (its partitions were revoked or lost)."""
        self._waiting.clear()
