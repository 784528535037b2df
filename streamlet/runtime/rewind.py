"""Rewinding a worker's partitions to their committed offsets after an abort."""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from streamlet.errors import TransactionError
from streamlet.kafka.retry import retry_transient

log = logging.getLogger(__name__)

_SEEK_TRIES = 10


def rewind_to_committed(consumer: Any, partitions: list[TopicPartition]) -> None:
    """Seek every partition to the group's committed offset (the beginning when none).

    A partition no longer assigned (a rebalance is under way) needs no seek; one still assigned
    must be rewound, or its records since the commit would be skipped: a seek that keeps
    failing raises ``TransactionError`` naming the partition, and the worker stops."""
    try:
        committed: list[TopicPartition] = retry_transient(
            lambda: consumer.committed(partitions, timeout=30.0), "committed offsets"
        )
    except KafkaException as exc:
        shown = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
        raise TransactionError(
            f"reading the committed offsets of {shown} to recover failed: {exc}"
        ) from exc
    for tp in committed:
        if tp.offset < 0:
            tp.offset = OFFSET_BEGINNING
        for attempt in range(_SEEK_TRIES):
            try:
                consumer.seek(tp)
                break
            except KafkaException as seek_exc:
                assigned = {(a.topic, a.partition) for a in consumer.assignment()}
                if (tp.topic, tp.partition) not in assigned:
                    log.info("seek %s[%d] not needed: %s", tp.topic, tp.partition, seek_exc)
                    break
                if attempt == _SEEK_TRIES - 1:
                    error = TransactionError(
                        f"cannot rewind to the committed offset after an abort: {seek_exc}"
                    )
                    error.topic, error.partition, error.offset = tp.topic, tp.partition, tp.offset
                    raise error from seek_exc
                time.sleep(0.2)
