"""Deleting repartition records every reader has committed past.

Repartition topics keep records forever (``retention.ms=-1``): they carry the event time of
their input, and time-based retention would delete old events before they were read. So,
like Kafka Streams, the app deletes what it consumed: after a commit, at most once per
``repartition_purge_interval_ms``, a DeleteRecords request up to the committed offsets. The
request is asynchronous; a failed one is retried with the next commit's offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import TopicPartition

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0


class RepartitionPurger:
    def __init__(self, admin: Any, topics: Iterable[str], interval_s: float) -> None:
        self._admin = admin
        self._topics = frozenset(topics)
        self._interval_s = interval_s
        self._next = time.monotonic() + interval_s
        self._committed: dict[tuple[str, int], int] = {}
        self._purged: dict[tuple[str, int], int] = {}
        self._pending: dict[TopicPartition, Future[Any]] = {}

    def committed(self, offsets: Iterable[TopicPartition]) -> None:
        """Note what a successful commit made durable; purge when the interval is due."""
        if not self._topics:
            return
        for tp in offsets:
            if tp.topic in self._topics:
                self._committed[(tp.topic, tp.partition)] = tp.offset
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._interval_s
            self._launch()

    def _launch(self) -> None:
        for tp, future in list(self._pending.items()):
            if not future.done():
                return  # the previous request is in flight; the next interval retries
            del self._pending[tp]
            try:
                future.result()
            except Exception as exc:  # the next request covers these offsets again
                log.debug("purging %s[%d] failed: %s", tp.topic, tp.partition, exc)
                self._purged.pop((tp.topic, tp.partition), None)
        request = [
            TopicPartition(topic, partition, offset)
            for (topic, partition), offset in self._committed.items()
            if offset > self._purged.get((topic, partition), -1)
        ]
        if not request:
            return
        for tp in request:
            self._purged[(tp.topic, tp.partition)] = tp.offset
        self._pending = self._admin.delete_records(
            request, request_timeout=_TIMEOUT_S, operation_timeout=_TIMEOUT_S
        )
