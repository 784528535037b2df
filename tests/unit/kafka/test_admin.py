from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamlet.kafka.admin import _retrying


def _failing(times: int, code: int) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def ask() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise KafkaException(KafkaError(code))
        return "answer"

    return calls, ask


def test_retrying_repeats_not_leader_answer_until_it_settles() -> None:
    # a per-partition NOT_LEADER arrives with retriable() == False; it must still be retried
    assert not KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION).retriable()
    calls, ask = _failing(3, KafkaError.NOT_LEADER_FOR_PARTITION)
    assert _retrying(ask) == "answer"
    assert len(calls) == 4


def test_retrying_raises_permanent_error_at_once() -> None:
    calls, ask = _failing(1, KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        _retrying(ask)
    assert len(calls) == 1
