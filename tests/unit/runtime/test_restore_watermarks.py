"""``high_watermarks`` rides out a leader that died: a ListOffsets that is never answered or
finds no leader is retried (after a metadata refresh), not fatal to the worker."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streamlet.runtime import restore


class _Offset:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class _FlakyAdmin:
    """Fails the first ``failures`` ListOffsets calls with ``fail(future)``, then answers 42."""

    def __init__(self, failures: int, fail: Any) -> None:
        self.failures, self.fail = failures, fail
        self.calls = 0
        self.refreshed: list[str] = []

    def list_offsets(self, request: dict[TopicPartition, Any], **_: Any) -> dict[Any, Any]:
        self.calls += 1
        futures: dict[TopicPartition, Future[Any]] = {}
        for tp in request:
            future: Future[Any] = Future()
            if self.calls <= self.failures:
                self.fail(future)
            else:
                future.set_result(_Offset(42))
            futures[tp] = future
        return futures

    def list_topics(self, topic: str, timeout: float) -> None:
        self.refreshed.append(topic)


def test_high_watermarks_retry_when_no_answer_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "_ASK_S", 0.01)
    admin = _FlakyAdmin(2, lambda _f: None)  # never completed: a request to a dead leader
    assert restore.high_watermarks(admin, [("c", 0)]) == {("c", 0): 42}  # type: ignore[arg-type]
    assert admin.calls == 3


def test_high_watermarks_refresh_metadata_when_no_leader_is_found() -> None:
    no_leader = KafkaException(KafkaError(KafkaError._NOENT, "No leaders found"))
    admin = _FlakyAdmin(1, lambda f: f.set_exception(no_leader))
    got = restore.high_watermarks(admin, [("c", 0), ("c", 1)])  # type: ignore[arg-type]
    assert got == {("c", 0): 42, ("c", 1): 42}
    assert admin.refreshed == ["c"]


def test_high_watermarks_retry_an_end_offset_that_is_not_known_yet() -> None:
    admin = _FlakyAdmin(1, lambda f: f.set_result(_Offset(-1001)))  # answered, no offset
    assert restore.high_watermarks(admin, [("c", 0)]) == {("c", 0): 42}  # type: ignore[arg-type]
    assert admin.calls == 2 and admin.refreshed == ["c"]
