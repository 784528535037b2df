"""Consumer errors in the error tree: a static member's fence stops as fenced (exit 66),
other fatal errors as restartable (exit 1), the rest do not stop the worker."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from streamlet.errors import InstanceFencedError, ProducerFencedError, StreamletError
from streamlet.kafka.translate import consumer_failure
from streamlet.runtime.exitcodes import EXIT_FENCED, EXIT_RESTARTABLE, status_for

# what librdkafka 2.16 handed a static member whose group.instance.id another consumer took
# (seen against the real broker): code _FATAL, fatal() false, the original code in the text
_FENCED_AS_SEEN = KafkaError(
    KafkaError._FATAL,
    "Fatal error: Broker: Static consumer fenced by other consumer with same "
    "group.instance.id: Fatal consumer error: Broker: Static consumer fenced by other "
    "consumer with same group.instance.id",
)


@pytest.mark.parametrize(
    "err", [_FENCED_AS_SEEN, KafkaError(KafkaError.FENCED_INSTANCE_ID, fatal=True)]
)
def test_consumer_failure_when_instance_fenced_is_fenced_status(err: KafkaError) -> None:
    failure = consumer_failure(err)

    assert isinstance(failure, InstanceFencedError)
    assert isinstance(failure, ProducerFencedError) and failure.fatal
    assert "group.instance.id" in str(failure)
    assert status_for(failure) == EXIT_FENCED


@pytest.mark.parametrize(
    "err",
    [
        KafkaError(KafkaError._FATAL, "Fatal error: Broker: something else"),
        KafkaError(KafkaError._INCONSISTENT, "bad state", fatal=True),
    ],
)
def test_consumer_failure_when_other_fatal_is_restartable(err: KafkaError) -> None:
    failure = consumer_failure(err)

    assert type(failure) is StreamletError
    assert err.str() in str(failure) and err.name() in str(failure)
    assert status_for(failure) == EXIT_RESTARTABLE


@pytest.mark.parametrize(
    "err",
    [
        KafkaError(KafkaError._PARTITION_EOF),
        KafkaError(KafkaError._TRANSPORT, "broker down", retriable=True),
        KafkaError(KafkaError._MAX_POLL_EXCEEDED, "poll interval exceeded"),
    ],
)
def test_consumer_failure_when_not_fatal_is_none(err: KafkaError) -> None:
    assert consumer_failure(err) is None
