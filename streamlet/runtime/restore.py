"""Restoration: bring a task's store partitions up to their changelog's end before it runs.

Each store records the changelog offset its contents reflect. Restoration replays the
committed changelog (read_committed) from there to the end in large batches, one
WriteBatch per batch. A store whose offset lies beyond the changelog's end (the topic was
recreated) is wiped and restored from the beginning.

Restoration ends at the *high watermark* observed when it began, read through the
read_committed consumer: its position passes that offset only once every record below it is
decided, so a record of a transaction still open (at the last stable offset) holds
restoration back until it commits or aborts, never ends it early.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from streamlet.errors import StateError
from streamlet.kafka.retry import retry_transient
from streamlet.runtime.progress import RestoreProgress

log = logging.getLogger(__name__)

_HIGH_WATERMARK_SETTLE_S = 15.0
# one ListOffsets try: short, so a retry soon goes to the leader elected meanwhile
_ASK_S = 10.0

_BATCH = 10_000
_STALL_S = 120.0


@dataclass
class RestoreTarget:
    """One store partition to restore: ``reopen_empty`` wipes it and returns the new one
    (the caller closes ``buffered`` first: the wipe needs the store's lock)."""

    store: str
    changelog: str
    partition: int
    buffered: Any  # streamlet.state.BufferedStore
    reopen_empty: Callable[[], Any]


def high_watermarks(
    admin: AdminClient, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The high watermark (read_uncommitted end offset) of every partition; ``StateError``
    naming the partition when the broker cannot say."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    request = {TopicPartition(t, p): latest for t, p in partitions}

    def ask() -> dict[tuple[str, int], int]:
        futures = admin.list_offsets(
            request, isolation_level=IsolationLevel.READ_UNCOMMITTED, request_timeout=_ASK_S
        )
        try:
            ends = {
                (tp.topic, tp.partition): int(f.result(timeout=_ASK_S * 1.5).offset)
                for tp, f in futures.items()
            }
        except concurrent.futures.TimeoutError:
            # a request queued for a leader that died may never be answered: a timeout
            # like librdkafka's own, retried (it killed workers as a bare TimeoutError)
            refresh()
            raise KafkaException(
                KafkaError(KafkaError._TIMED_OUT, "no answer to ListOffsets")
            ) from None
        except KafkaException:
            refresh()
            raise
        unknown = sorted(k for k, end in ends.items() if end < 0)
        if unknown:
            # during an election ListOffsets answered -1001 (no offset) without an error;
            # taken as the end, it made restore wipe the store and replay nothing
            refresh()
            raise KafkaException(
                KafkaError(KafkaError._TIMED_OUT, f"no end offset known yet for {unknown}")
            )
        return ends

    def refresh() -> None:
        # the admin client's metadata can keep a dead leader (or none: "No leaders found")
        # long after the election: ask for it anew before the next try
        for topic in {t for t, _ in partitions}:
            with contextlib.suppress(KafkaException):
                admin.list_topics(topic, timeout=5.0)

    try:  # a leader that just died or moved answers transiently: ride it out, bounded
        return retry_transient(ask, f"end offsets of {sorted(partitions)}", 120.0)
    except KafkaException as exc:
        raise StateError(
            f"cannot read the end offsets of changelogs {sorted(partitions)}: {exc}"
        ) from exc


def restore(
    consumer: Consumer,
    admin: AdminClient,
    targets: list[RestoreTarget],
    on_restored: Callable[[str, int], None] | None = None,
) -> dict[tuple[str, int], int]:
    """Replay each target's changelog from its recorded offset to the high watermark seen at
    the start; returns those end offsets, per (changelog, partition). ``on_restored(store,
    records)`` hears of each batch applied."""
    started = time.monotonic()
    todo: dict[tuple[str, int], tuple[RestoreTarget, int]] = {}
    ends = high_watermarks(admin, [(t.changelog, t.partition) for t in targets])
    assignment: list[TopicPartition] = []
    settle = time.monotonic() + _HIGH_WATERMARK_SETTLE_S  # one wait for all, not one each
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
        low, _ = retry_transient(ask, what, 120.0)
        high = ends[(target.changelog, target.partition)]
        start = target.buffered.changelog_offset()
        # a leader elected after a broker died reports a high watermark below the old one
        # until its followers catch up: only an end that stays short means a new topic
        while start is not None and start > high and time.monotonic() < settle:
            time.sleep(0.5)
            low, _ = retry_transient(ask, what, 120.0)
            high = high_watermarks(admin, [(target.changelog, target.partition)])[
                (target.changelog, target.partition)
            ]
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
            target.buffered.close()  # our own handle holds the lock the wipe must take
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
    progress = RestoreProgress()
    while todo:
        batch: list[Any] = consumer.consume(num_messages=_BATCH, timeout=0.2)
        writes: dict[tuple[str, int], dict[bytes, bytes | None]] = {}
        nexts: dict[tuple[str, int], int] = {}
        counts: dict[tuple[str, int], int] = {}
        eofs = 0
        for msg in batch:
            err = msg.error()
            if err is not None and err.code() == KafkaError._PARTITION_EOF:
                eofs += 1  # at the last stable offset: the position below says if that is all
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
            counts[key] = counts.get(key, 0) + 1
        for key, w in writes.items():
            target, _ = todo[key]
            target.buffered.apply_restored(w, nexts[key])
            applied += len(w)
            if on_restored is not None:
                on_restored(target.store, counts[key])
        total += len(batch) - eofs
        if batch:
            last_progress = time.monotonic()
        positions = consumer.position([TopicPartition(t, p) for t, p in todo])
        left = 0  # changelog offsets still to read (markers included: an upper bound)
        for tp in positions:
            key = (tp.topic, tp.partition)
            target, high = todo[key]
            left += high - max(tp.offset, nexts.get(key, 0), 0)
            # the position passes markers and aborted records once they are decided
            if tp.offset >= high or nexts.get(key, -1) >= high:
                if tp.offset > nexts.get(key, -1) and tp.offset >= 0:
                    target.buffered.apply_restored({}, tp.offset)
                del todo[key]
                consumer.incremental_unassign([TopicPartition(key[0], key[1])])
        now = time.monotonic()
        progress.update(total, left, len(todo))
        if todo and now - last_progress > _STALL_S:
            raise StateError(
                f"restoration made no progress for {_STALL_S:.0f} s on "
                f"{sorted(todo)} (an open transaction holding the last stable offset?)"
            )
    consumer.unassign()
    progress.done()
    seconds = time.monotonic() - started
    log.info(
        "restored %d records (%d distinct-key writes) in %.2f s (%.0f records/s)",
        total,
        applied,
        seconds,
        total / max(seconds, 1e-9),
    )
    return ends
