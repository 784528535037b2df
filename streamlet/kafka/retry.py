"""Bounded retries of client calls that fail transiently while a broker restarts or
leadership moves (``_UNKNOWN_PARTITION``, ``_DESTROY_BROKER``, ``_TRANSPORT`` …): a worker must
ride those out, not die of them. Anything else, or a fault that outlasts the deadline,
propagates."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# librdkafka's local codes for a broker connection torn down or metadata not yet settled,
# and the broker codes of a leadership or coordinator change
TRANSIENT_CODES = frozenset(
    {
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._DESTROY_BROKER,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._WAIT_COORD,
        KafkaError._NOENT,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        # a request that reached a leader of an older or newer epoch than the client knows:
        # seen from ListOffsets while a killed broker's partitions were being re-elected
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
    }
)


def is_transient(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args else None
    if not isinstance(err, KafkaError):
        return False
    if err.fatal():
        return False
    return bool(err.retriable()) or err.code() in TRANSIENT_CODES


def retry_transient(call: Callable[[], _T], what: str, deadline_s: float = 60.0) -> _T:
    """``call()``, again after a transient KafkaException, until ``deadline_s`` has passed."""
    deadline = time.monotonic() + deadline_s
    pause = 0.1
    while True:
        try:
            return call()
        except KafkaException as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            log.info("%s failed transiently (%s); retrying", what, exc.args[0])
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
