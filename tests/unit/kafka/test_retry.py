from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamlet.kafka.retry import retry_transient


def _failing(codes: list[int]) -> list[int]:
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        if codes:
            raise KafkaException(KafkaError(codes.pop(0)))
        return len(calls)

    return [retry_transient(call, "test", deadline_s=10)]


def test_retry_transient_rides_out_unknown_partition_and_destroyed_broker() -> None:
    assert _failing([KafkaError._UNKNOWN_PARTITION, KafkaError._DESTROY_BROKER]) == [3]


def test_retry_transient_rides_out_a_leader_epoch_change() -> None:
    codes = [KafkaError.FENCED_LEADER_EPOCH, KafkaError.UNKNOWN_LEADER_EPOCH]
    assert _failing([*codes, KafkaError.OFFSET_NOT_AVAILABLE]) == [4]


def test_retry_transient_raises_other_errors_at_once() -> None:
    with pytest.raises(KafkaException):
        _failing([KafkaError.TOPIC_AUTHORIZATION_FAILED])


def test_retry_transient_gives_up_after_its_deadline() -> None:
    def call() -> int:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    with pytest.raises(KafkaException):
        retry_transient(call, "test", deadline_s=0.3)
