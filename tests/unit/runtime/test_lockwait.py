"""LockWaits: backoff doubles to a cap; revocation forgets every waiting task."""

from __future__ import annotations

from streamlet.errors import StoreLockedError
from streamlet.runtime.lockwait import LockWaits


def test_retry_backoff_doubles_up_to_five_seconds() -> None:
    waits = LockWaits()
    assert waits.due("0_1", 0.0)  # never failed: try at once
    waits.failed("0_1", StoreLockedError("locked"), now=0.0)
    assert not waits.due("0_1", 0.05) and waits.due("0_1", 0.1)
    now, gaps = 0.1, []
    for _ in range(8):
        waits.failed("0_1", StoreLockedError("locked"), now)
        later = now
        while not waits.due("0_1", later):
            later += 0.05
        gaps.append(round(later - now, 1))
        now = later
    assert gaps[:3] == [0.2, 0.4, 0.8] and gaps[-1] == 5.0
    waits.acquired("0_1", now)
    assert not waits and "0_1" not in waits


def test_clear_when_revoked_forgets_waiting_tasks() -> None:
    waits = LockWaits()
    waits.failed("0_0", StoreLockedError("locked"), now=0.0)
    waits.clear()
    assert not waits and "0_0" not in waits and waits.due("0_0", 0.0)
