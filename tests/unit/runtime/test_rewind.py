"""Rewinding after an abort: failures to read the committed offsets or to seek a partition
that is still assigned become TransactionErrors with context, never a silent skip."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from streamlet.errors import TransactionError
from streamlet.runtime.rewind import rewind_to_committed


class _Consumer:
    """The consumer calls a rewind makes: committed(), seek(), assignment()."""

    def __init__(
        self,
        committed: dict[tuple[str, int], int],
        assigned: set[tuple[str, int]],
        committed_error: KafkaError | None = None,
        seek_error: KafkaError | None = None,
    ) -> None:
        self._committed = committed
        self._assigned = assigned
        self._committed_error = committed_error
        self._seek_error = seek_error
        self.seeks: list[tuple[str, int, int]] = []

    def committed(self, partitions: list[TopicPartition], timeout: float) -> Any:
        if self._committed_error is not None:
            raise KafkaException(self._committed_error)
        return [
            TopicPartition(tp.topic, tp.partition, self._committed[(tp.topic, tp.partition)])
            for tp in partitions
        ]

    def seek(self, tp: TopicPartition) -> None:
        if self._seek_error is not None:
            raise KafkaException(self._seek_error)
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self._assigned]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streamlet.runtime.rewind.time.sleep", lambda _s: None)


def test_rewind_seeks_committed_offsets_and_beginning_when_none() -> None:
    consumer = _Consumer({("in", 0): 7, ("in", 1): -1001}, {("in", 0), ("in", 1)})

    rewind_to_committed(consumer, [TopicPartition("in", 0), TopicPartition("in", 1)])

    assert consumer.seeks == [("in", 0, 7), ("in", 1, OFFSET_BEGINNING)]


def test_rewind_when_committed_fails_raises_naming_partitions() -> None:
    err = KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED, "not authorized")
    consumer = _Consumer({}, {("in", 0)}, committed_error=err)

    with pytest.raises(TransactionError) as caught:
        rewind_to_committed(consumer, [TopicPartition("in", 0), TopicPartition("in", 3)])

    assert "committed offsets of in[0], in[3]" in str(caught.value)
    assert "not authorized" in str(caught.value)


def test_rewind_when_seek_fails_on_assigned_partition_raises_with_location() -> None:
    err = KafkaError(KafkaError._STATE, "erroneous state")
    consumer = _Consumer({("in", 2): 40}, {("in", 2)}, seek_error=err)

    with pytest.raises(TransactionError) as caught:
        rewind_to_committed(consumer, [TopicPartition("in", 2)])

    error = caught.value
    assert (error.topic, error.partition, error.offset) == ("in", 2, 40)
    assert "cannot rewind" in str(error) and "erroneous state" in str(error)


def test_rewind_when_seek_fails_on_revoked_partition_skips_it() -> None:
    err = KafkaError(KafkaError._STATE, "erroneous state")
    consumer = _Consumer({("in", 2): 40}, set(), seek_error=err)

    rewind_to_committed(consumer, [TopicPartition("in", 2)])  # the next owner rewinds it

    assert consumer.seeks == []
