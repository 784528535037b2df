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


_SETTLE_EVERY_S = 0.5
_FETCH_WAIT_S = 0.05  # one consume's wait when nothing is queued: an idle step stays short
_SLICE_S = 0.5  # by default, the most one step spends replaying while records keep coming

_Key = tuple[str, int]  # (changelog, partition)


def _key(target: RestoreTarget) -> _Key:
    return (target.changelog, target.partition)


@dataclass
class _Settling:
    """A store whose recorded offset lies beyond the changelog's end: a new leader may still
    report a lagging high watermark, so only an end that stays short means a new topic."""

    target: RestoreTarget
    start: int
    until: float
    next_check: float


class Restoration:
    """The replay of a changing set of store partitions from their changelogs, advanced a
    bounded step at a time so that the worker can run it from its poll loop (a long restore
    never holds up a rebalance; ``restore()`` below runs one to the end).

    ``add`` queues targets; each ``step`` starts the queued ones (reads their ends, wipes a
    store of a recreated changelog), replays batches for at most ``slice_s`` and returns
    the targets it finished with their end offsets; ``remove`` drops targets (their task was
    revoked: what a store holds is a committed prefix of its changelog, so closing it is
    safe). ``on_restored(store, records)`` hears of each batch applied."""

    def __init__(
        self,
        consumer: Consumer,
        admin: AdminClient,
        on_restored: Callable[[str, int], None] | None = None,
    ) -> None:
        self._consumer = consumer
        self._admin = admin
        self._on_restored = on_restored
        self._queued: list[RestoreTarget] = []
        self._settling: dict[_Key, _Settling] = {}
        self._reading: dict[_Key, tuple[RestoreTarget, int]] = {}  # target, end offset
        self._finished: list[tuple[RestoreTarget, int]] = []
        self._session: _Session | None = None

    def __bool__(self) -> bool:
        return bool(self._queued or self._settling or self._reading or self._finished)

    def add(self, targets: list[RestoreTarget]) -> None:
        if targets and self._session is None:
            self._session = _Session()
        self._queued.extend(targets)

    def remove(self, targets: list[RestoreTarget]) -> None:
        keys = {_key(t) for t in targets}
        self._queued = [t for t in self._queued if _key(t) not in keys]
        self._finished = [(t, e) for t, e in self._finished if _key(t) not in keys]
        for key in keys:
            self._settling.pop(key, None)
        reading = [TopicPartition(t, p) for t, p in keys if (t, p) in self._reading]
        for tp in reading:
            del self._reading[(tp.topic, tp.partition)]
        if reading:
            self._consumer.incremental_unassign(reading)
        if not self and self._session is not None:
            self._session.stopped(len(keys))
            self._session = None

    def step(self, slice_s: float = _SLICE_S) -> list[tuple[RestoreTarget, int]]:
        """Advance by at most ``slice_s`` of replay (plus the offset queries of targets just
        started); returns the targets finished, each with the end offset it reached."""
        if self._queued:
            queued, self._queued = self._queued, []
            self._start(queued)
        if self._settling:
            self._settle()
        deadline = time.monotonic() + slice_s
        while self._reading:
            read = self._read_batch()
            if read == 0 or time.monotonic() >= deadline:
                break
        if self._reading and self._session is not None:
            self._session.check_stalled(sorted(self._reading))
        finished, self._finished = self._finished, []
        if not self and self._session is not None:
            self._session.done()
            self._session = None
        return finished

    # -- starting --------------------------------------------------------------------------
    def _start(self, targets: list[RestoreTarget]) -> None:
        ends = high_watermarks(self._admin, [_key(t) for t in targets])
        now = time.monotonic()
        for target in targets:
            low = self._low_watermark(target)
            start = target.buffered.changelog_offset()
            if start is not None and start > ends[_key(target)]:
                # one wait for all the stores started together, not one each
                until = now + _HIGH_WATERMARK_SETTLE_S
                self._settling[_key(target)] = _Settling(target, start, until, now)
                continue
            self._begin(target, low if start is None else max(start, low), ends[_key(target)])
        self._announce()

    def _settle(self) -> None:
        now = time.monotonic()
        due = [s for s in self._settling.values() if s.next_check <= now]
        if not due:
            return
        ends = high_watermarks(self._admin, [_key(s.target) for s in due])
        for s in due:
            target, high = s.target, ends[_key(s.target)]
            if s.start <= high:
                del self._settling[_key(target)]
                self._begin(target, max(s.start, self._low_watermark(target)), high)
            elif now >= s.until:
                del self._settling[_key(target)]
                log.warning(
                    "store %s partition %d records offset %d beyond changelog end %d "
                    "(topic recreated?): wiping and restoring from the beginning",
                    target.store,
                    target.partition,
                    s.start,
                    high,
                )
                target.buffered.close()  # our own handle holds the lock the wipe must take
                target.buffered = target.reopen_empty()
                self._begin(target, self._low_watermark(target), high)
            else:
                s.next_check = now + _SETTLE_EVERY_S
        self._announce()

    def _low_watermark(self, target: RestoreTarget) -> int:
        consumer, tp = self._consumer, TopicPartition(target.changelog, target.partition)

        def ask() -> int:
            try:
                low, _ = consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
            except KafkaException:
                # after a broker died the consumer's metadata cache can drop a topic it
                # does not fetch yet (_UNKNOWN_PARTITION for good): ask for it anew
                with contextlib.suppress(KafkaException):
                    consumer.list_topics(tp.topic, timeout=5.0)
                raise
            return int(low)

        # short tries: a query sent to a leader that just died never answers, a new one
        # goes to the leader metadata names by then
        return retry_transient(ask, f"watermarks of {tp.topic}[{tp.partition}]", 120.0)

    def _begin(self, target: RestoreTarget, start: int, end: int) -> None:
        if start >= end:
            self._finished.append((target, end))
            return
        self._reading[_key(target)] = (target, end)
        if self._session is not None:
            self._session.announce(end - start)
        self._consumer.incremental_assign(
            [TopicPartition(target.changelog, target.partition, start)]
        )

    def _announce(self) -> None:
        if self._session is not None:
            self._session.log_announced()

    # -- replaying -------------------------------------------------------------------------
    def _read_batch(self) -> int:
        """Apply one batch of changelog records; returns how many were read."""
        consumer = self._consumer
        batch: list[Any] = consumer.consume(num_messages=_BATCH, timeout=_FETCH_WAIT_S)
        writes: dict[_Key, dict[bytes, bytes | None]] = {}
        nexts: dict[_Key, int] = {}
        counts: dict[_Key, int] = {}
        reading = self._reading
        # a batch is runs of one partition's consecutive records: per record only the key and
        # value are taken; the rest is done once per run
        run: dict[bytes, bytes | None] | None = None  # None: the run's partition is not read
        run_key: _Key = ("", -1)
        run_start = 0
        last: Any = None

        def end_run(end: int) -> None:  # the run is batch[run_start:end]
            if run is not None:
                nexts[run_key] = last.offset() + 1
                counts[run_key] = counts.get(run_key, 0) + end - run_start

        for i, msg in enumerate(batch):
            err = msg.error()
            if err is not None:
                end_run(i)
                run, run_key = None, ("", -1)
                if err.code() == KafkaError._PARTITION_EOF:
                    continue  # at the last stable offset: the position below says if that is all
                raise StateError(
                    f"restoring from {msg.topic()}: {err}",
                    topic=msg.topic(),
                    partition=msg.partition(),
                )
            partition = msg.partition()
            if partition != run_key[1] or msg.topic() != run_key[0]:
                end_run(i)
                run_key, run_start = (msg.topic(), partition), i
                run = writes.setdefault(run_key, {}) if run_key in reading else None
            if run is not None:
                run[msg.key()] = msg.value()
                last = msg
        end_run(len(batch))
        read = sum(counts.values())
        applied = 0
        for key, w in writes.items():
            target, _ = reading[key]
            target.buffered.apply_restored(w, nexts[key])
            applied += len(w)
            if self._on_restored is not None:
                self._on_restored(target.store, counts[key])
        positions = consumer.position([TopicPartition(t, p) for t, p in self._reading])
        left = 0  # changelog offsets still to read (markers included: an upper bound)
        done: list[TopicPartition] = []
        for tp in positions:
            key = (tp.topic, tp.partition)
            target, high = self._reading[key]
            left += high - max(tp.offset, nexts.get(key, 0), 0)
            # the position passes markers and aborted records once they are decided
            if tp.offset >= high or nexts.get(key, -1) >= high:
                if tp.offset > nexts.get(key, -1) and tp.offset >= 0:
                    target.buffered.apply_restored({}, tp.offset)
                del self._reading[key]
                self._finished.append((target, high))
                done.append(TopicPartition(key[0], key[1]))
        if done:
            consumer.incremental_unassign(done)
        if self._session is not None:
            self._session.progressed(read, applied, left, len(self._reading))
        return read


class _Session:
    """One stretch of restoration, from the first target added to the last one finished:
    its log lines and its progress report."""

    def __init__(self) -> None:
        self.started = self.last_progress = time.monotonic()
        self.total = self.applied = self.partitions = 0
        self._announced = [0, 0]  # store partitions, changelog records not yet logged
        self._progress = RestoreProgress()

    def announce(self, records: int) -> None:
        self.partitions += 1
        self._announced[0] += 1
        self._announced[1] += records

    def log_announced(self) -> None:
        partitions, records = self._announced
        if partitions:
            log.info(
                "restoring %d store partitions, up to %d changelog records", partitions, records
            )
        self._announced = [0, 0]

    def progressed(self, read: int, applied: int, left: int, partitions: int) -> None:
        self.total += read
        self.applied += applied
        if read:
            self.last_progress = time.monotonic()
        self._progress.update(self.total, left, partitions)

    def check_stalled(self, partitions: list[_Key]) -> None:
        if time.monotonic() - self.last_progress > _STALL_S:
            raise StateError(
                f"restoration made no progress for {_STALL_S:.0f} s on "
                f"{partitions} (an open transaction holding the last stable offset?)"
            )

    def done(self) -> None:
        self._progress.done()
        if not self.partitions:  # every store was at its changelog's end: nothing to say
            return
        seconds = time.monotonic() - self.started
        log.info(
            "restored %d records (%d distinct-key writes) in %.2f s (%.0f records/s)",
            self.total,
            self.applied,
            seconds,
            self.total / max(seconds, 1e-9),
        )

    def stopped(self, partitions: int) -> None:
        self._progress.done()
        log.info(
            "restoration stopped (%d store partitions revoked) after %d records in %.2f s",
            partitions,
            self.total,
            time.monotonic() - self.started,
        )


def restore(
    consumer: Consumer,
    admin: AdminClient,
    targets: list[RestoreTarget],
    on_restored: Callable[[str, int], None] | None = None,
) -> dict[_Key, int]:
    """Replay each target's changelog from its recorded offset to the high watermark seen at
    the start, to the end; returns those end offsets, per (changelog, partition)."""
    restoration = Restoration(consumer, admin, on_restored)
    restoration.add(targets)
    ends: dict[_Key, int] = {}
    while restoration:
        for target, end in restoration.step():
            ends[_key(target)] = end
    return ends
