"""``ChangelogPositions`` on a clean close: an end offset query that is not answered (its
leader died) costs at most ``_SETTLE_S`` and leaves the older lower bound in place."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from streamlet.runtime import commit


class _SilentAdmin:
    def list_offsets(self, request: dict[TopicPartition, Any], **_: Any) -> dict[Any, Any]:
        return {tp: Future() for tp in request}  # never answered


def test_harvest_waits_no_longer_than_the_settle_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit, "_SETTLE_S", 0.2)
    positions = commit.ChangelogPositions(_SilentAdmin())  # type: ignore[arg-type]
    positions.set("c", 0, 7)
    positions.refresh([("c", 0), ("c", 1)])
    started = time.monotonic()
    positions.harvest(wait=True)
    assert time.monotonic() - started < 2.0
    assert positions.get("c", 0) == 7  # the lower bound it had
    assert positions.get("c", 1) is None
