"""LockWaits: backoff doubles to a cap; revocation forgets every waiting task."""

from __future__ import annotations

from typing import Any, cast

from confluent_kafka import TopicPartition

from streamlet.errors import StoreLockedError
from streamlet.runtime.lockwait import LockWaits


def test_retry_backoff_doubles_up_to_five_seconds() -> None:
    waits = LockWaits()
    sub = cast(Any, object())
    waits.add("0_1", sub, 1, StoreLockedError("locked"), now=0.0)
    waits.add_partition("0_1", TopicPartition("in", 1))
    assert waits.due(0.05) == [] and [t for t, _, _ in waits.due(0.1)] == ["0_1"]
    now, gaps = 0.1, []
    for _ in range(8):
        waits.retry_later("0_1", StoreLockedError("locked"), now)
        later = now
        while not waits.due(later):
            later += 0.05
        gaps.append(round(later - now, 1))
        now = later
    assert gaps[:3] == [0.2, 0.4, 0.8] and gaps[-1] == 5.0
    assert [(tp.topic, tp.partition) for tp in waits.pop("0_1", now)] == [("in", 1)]
    assert not waits


def test_clear_when_revoked_forgets_waiting_tasks() -> None:
    waits = LockWaits()
    waits.add("0_0", cast(Any, object()), 0, StoreLockedError("locked"), now=0.0)
    waits.clear()
    assert not waits and "0_0" not in waits and waits.partitions() == []
