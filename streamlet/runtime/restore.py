"""Restoration: bring a task's store partitions up to their changelog's end before it runs.

Each store records the changelog offset its contents reflect. Restoration replays the
committed changelog (read_committed) from there to the end in large batches, one
WriteBatch per batch. A store whose offset lies beyond the changelog's end (the topic was
recreated) is wiped and restored from the beginning.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streamlet.errors import StateError
from streamlet.kafka.retry import retry_transient

log = logging.getLogger(__name__)

_HIGH_WATERMARK_SETTLE_S = 15.0

_BATCH = 10_000
_STALL_S = 120.0


@dataclass
class RestoreTarget:
    """One store partition to restore: ``reopen_empty`` wipes it and returns the new one."""

    store: str
    changelog: str
    partition: int
    buffered: Any  # streamlet.state.BufferedStore
    reopen_empty: Callable[[], Any]


def restore(consumer: Consumer, targets: list[RestoreTarget]) -> dict[tuple[str, int], int]:
    """Replay each target's changelog from its recorded offset to the end offset; returns the
    end offsets, per (changelog, partition)."""
    started = time.monotonic()
    todo: dict[tuple[str, int], tuple[RestoreTarget, int]] = {}
    ends: dict[tuple[str, int], int] = {}
    assignment: list[TopicPartition] = []
    for target in targets:
        tp = TopicPartition(target.changelog, target.partition)

        def ask(tp: TopicPartition = tp) -> tuple[int, int]:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
            except KafkaException:
                # after a broker died the consumer's metadata cache can drop a topic it
                # does not fetch yet (_UNKNOWN_PARTITION for good): ask for it anew
                with contextlib.suppress(KafkaException):
                    consumer.list_topics(tp.topic, timeout=5.0)
                raise
            return int(low), int(high)

        # short tries: a query sent to a leader that just died never answers, a new one
        # goes to the leader metadata names by then
        what = f"watermarks of {tp.topic}[{tp.partition}]"
        low, high = retry_transient(ask, what, 120.0)
        start = target.buffered.changelog_offset()
        # a leader elected after a broker died reports a high watermark below the old one
        # until its followers catch up: only an end that stays short means a new topic
        settle = time.monotonic() + _HIGH_WATERMARK_SETTLE_S
        while start is not None and start > high and time.monotonic() < settle:
            time.sleep(0.5)
            low, high = retry_transient(ask, what, 120.0)
        ends[(target.changelog, target.partition)] = high
        if start is not None and start > high:
            log.warning(
                "store %s partition %d records offset %d beyond changelog end %d "
                "(topic recreated?): wiping and restoring from the beginning",
                target.store,
                target.partition,
                start,
                high,
            )
            target.buffered = target.reopen_empty()
            start = None
        start = low if start is None else max(start, low)
        if start >= high:
            continue
        todo[(target.changelog, target.partition)] = (target, high)
        assignment.append(TopicPartition(target.changelog, target.partition, start))
    if not assignment:
        return ends
    remaining = sum(
        high - tp.offset for tp, (_, high) in zip(assignment, todo.values(), strict=True)
    )
    log.info("restoring %d store partitions, up to %d changelog records", len(todo), remaining)
    consumer.assign(assignment)
    total = applied = 0
    last_progress = time.monotonic()
    last_log = last_progress
    while todo:
        batch: list[Any] = consumer.consume(num_messages=_BATCH, timeout=0.2)
        writes: dict[tuple[str, int], dict[bytes, bytes | None]] = {}
        nexts: dict[tuple[str, int], int] = {}
        at_end: set[tuple[str, int]] = set()
        for msg in batch:
            err = msg.error()
            if err is not None and err.code() == KafkaError._PARTITION_EOF:
                # the end of what read_committed may see; markers need not be waited for
                at_end.add((msg.topic(), msg.partition()))
                continue
            if err is not None:
                raise StateError(
                    f"restoring from {msg.topic()}: {msg.error()}",
                    topic=msg.topic(),
                    partition=msg.partition(),
                )
            key = (msg.topic(), msg.partition())
            writes.setdefault(key, {})[msg.key()] = msg.value()
            nexts[key] = msg.offset() + 1
        for key, w in writes.items():
            target, _ = todo[key]
            target.buffered.apply_restored(w, nexts[key])
            applied += len(w)
        total += len(batch) - len(at_end)
        if batch:
            last_progress = time.monotonic()
        positions = consumer.position([TopicPartition(t, p) for t, p in todo])
        for tp in positions:
            key = (tp.topic, tp.partition)
            _, high = todo[key]
            position = tp.offset
            done = key in at_end and (position < 0 or position >= high - 1)
            if done or position >= high or (position >= 0 and nexts.get(key, position) >= high):
                del todo[key]
                consumer.incremental_unassign([TopicPartition(key[0], key[1])])
        now = time.monotonic()
        if now - last_log > 5.0:
            rate = total / max(now - started, 1e-9)
            log.info("restored %d records (%.0f/s), %d partitions to go", total, rate, len(todo))
            last_log = now
        if todo and now - last_progress > _STALL_S:
            raise StateError(
                f"restoration made no progress for {_STALL_S:.0f} s on "
                f"{sorted(todo)} (an open transaction holding the last stable offset?)"
            )
    consumer.unassign()
    seconds = time.monotonic() - started
    log.info(
        "restored %d records (%d distinct-key writes) in %.2f s (%.0f records/s)",
        total,
        applied,
        seconds,
        total / max(seconds, 1e-9),
    )
    return ends
