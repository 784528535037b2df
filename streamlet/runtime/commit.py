"""The commit protocol: the one place that knows how a worker's work becomes durable.

Exactly-once (``exactly_once_v2``), per worker, one transactional producer:

1. A transaction begins at the first record consumed after the previous commit, or at the
   commit itself when the only work since is store writes (a punctuator's, say).
2. Output, repartition and changelog records all go through the one producer; each task
   store's pending writes (coalesced per key) are produced to its changelog here.
3. ``send_offsets_to_transaction(next offsets of every task, group metadata)``.
4. ``commit_transaction()``.
5. Only then each store's pending writes go to RocksDB in one WriteBatch together with a
   changelog offset they reflect.

The offset recorded in step 5 is a lower bound: the changelog's end offset observed after
the previous commit (queried in the background). Changelog records are whole values, so
replaying any suffix from an offset at or before the true one yields the same state; the
bound only costs a short replay after a crash, never a wipe.

At-least-once: produce, ``flush()``, synchronous offset commit, then step 5.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from streamlet.config import AppConfig
from streamlet.errors import ProducerFencedError, StreamletError, TransactionError
from streamlet.kafka.bounded import CallStuck, call_bounded
from streamlet.kafka.clients import producer_config
from streamlet.kafka.retry import retry_transient
from streamlet.runtime.metrics import WorkerMetrics
from streamlet.runtime.task import Task

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
# how long a clean close (a revocation) waits for exact changelog ends: the lower bound it
# keeps otherwise only costs a short replay, while waiting on a dead leader's answer held
# revocations for 30 s and cost the member its place in the group
_SETTLE_S = 5.0
# past its own timeout, how long a send_offsets_to_transaction may still take before the
# producer is given up as stuck
_STUCK_GRACE_S = 15.0


class ChangelogPositions:
    """Lower bounds of changelog end offsets, refreshed in the background after commits."""

    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin
        self._known: dict[tuple[str, int], int] = {}
        self._pending: dict[Any, Any] | None = None

    def set(self, topic: str, partition: int, offset: int) -> None:
        self._known[(topic, partition)] = offset

    def get(self, topic: str, partition: int) -> int | None:
        return self._known.get((topic, partition))

    def harvest(self, wait: bool = False) -> None:
        """Take in the results of the last refresh that have arrived (with ``wait``, those
        that arrive within ``_SETTLE_S``; an answer that does not keeps the older bound)."""
        if self._pending is None:
            return
        deadline = time.monotonic() + _SETTLE_S
        for tp, future in list(self._pending.items()):
            if wait or future.done():
                try:
                    offset = future.result(timeout=max(0.0, deadline - time.monotonic())).offset
                except Exception as exc:  # a lower bound that stays older is still correct
                    log.debug("changelog end offset query failed: %s", exc)
                else:
                    key = (tp.topic, tp.partition)
                    self._known[key] = max(self._known.get(key, 0), offset)
                del self._pending[tp]
        if not self._pending:
            self._pending = None

    def refresh(self, partitions: Iterable[tuple[str, int]]) -> None:
        if self._pending is not None:
            return  # the previous query is still in flight; its answer is still a bound
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(t, p): latest for t, p in set(partitions)}
        if request:
            self._pending = self._admin.list_offsets(request, request_timeout=_TIMEOUT_S)


class Committer:
    """Owns the producer and the commit sequence for one worker."""

    def __init__(
        self,
        cfg: AppConfig,
        transactional_id: str | None,
        admin: AdminClient,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self._cfg = cfg
        self.metrics = metrics or WorkerMetrics()
        self._produced: dict[str, int] = {}  # records produced in the open transaction
        self._txn_id = transactional_id if cfg.exactly_once else None
        self._in_txn = False
        self._began: float | None = None  # monotonic start of the latest transaction
        self._delivery_errors: list[str] = []
        self.rejected = False  # the last commit failed on records the broker rejected
        # the last commit sent input offsets with the group's metadata and succeeded: the
        # broker checked that this member still owned the partitions then
        self._owner_checked = False
        self._rejected_since_commit = False
        self.positions = ChangelogPositions(admin)
        # producers left inside a call that never returned: kept referenced (destroying one
        # mid-call is unsafe); the replacement's init_transactions fences them
        self._stuck: list[Producer] = []
        self._producer = self._new_producer()

    # -- producer -----------------------------------------------------------------------
    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None and err.code() in _REJECTIONS:
            self._rejected_since_commit = True
        if err is not None and len(self._delivery_errors) < 10:
            self._delivery_errors.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    def _new_producer(self) -> Producer:
        producer = Producer(producer_config(self._cfg, self._txn_id, self._on_delivery))
        if self._txn_id is not None:
            try:
                # a coordinator moving (a broker restarting) is ridden out, within bounds
                retry_transient(lambda: producer.init_transactions(_TIMEOUT_S), "init_transactions")
            except KafkaException as exc:
                raise TransactionError(
                    f"init_transactions failed for {self._txn_id}: {exc}"
                ) from exc
        return producer

    def recreate_producer(self) -> None:
        """After a fatal producer error: a new producer (and epoch) for the same id."""
        if not self._stuck or self._stuck[-1] is not self._producer:
            with contextlib.suppress(Exception):
                self._producer.flush(0)
        self._in_txn = False
        self._delivery_errors.clear()
        self._produced.clear()
        self._producer = self._new_producer()

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int,
        timestamp: int,
        headers: Any,
    ) -> None:
        # once per output record: the common case is one C call and a counter
        if not self._in_txn and self._txn_id is not None:
            self.begin()
        produced = self._produced
        produced[topic] = produced.get(topic, 0) + 1
        try:
            # positional: confluent-kafka parses keyword arguments per call, ~0.5 us more
            # (topic, value, key, partition, on_delivery, callback, timestamp, headers; a
            # None callback means the producer's own, _on_delivery)
            self._producer.produce(topic, value, key, partition, None, None, timestamp, headers)
        except BufferError:
            self._produce_when_room(topic, key, value, partition, timestamp, headers)
        except KafkaException as exc:
            raise _translate(exc, f"produce to {topic}") from exc

    def produce_all(
        self, topic: str, pairs: Iterable[tuple[bytes, bytes | None]], partition: int
    ) -> None:
        """``produce`` of every ``(key, value)`` of ``pairs`` to one partition, with no headers
        (a store's changelog records at commit), without a Python call per record, each
        stamped by the producer with the wall clock (no explicit timestamp: ~0.3 us less)."""
        if not self._in_txn and self._txn_id is not None:
            self.begin()
        produce = self._producer.produce
        count = 0
        try:
            for key, value in pairs:
                count += 1
                try:
                    produce(topic, value, key, partition)
                except BufferError:
                    self._produce_when_room(topic, key, value, partition, 0, None)
        except KafkaException as exc:
            raise _translate(exc, f"produce to {topic}") from exc
        finally:
            self._produced[topic] = self._produced.get(topic, 0) + count

    def _produce_when_room(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int,
        timestamp: int,
        headers: Any,
    ) -> None:
        """The producer's queue is full: serve delivery reports until the record fits."""
        while True:
            try:
                self._producer.poll(0.05)
                self._producer.produce(topic, value, key, partition, None, None, timestamp, headers)
                return
            except BufferError:
                continue
            except KafkaException as exc:
                raise _translate(exc, f"produce to {topic}") from exc

    def poll(self) -> None:
        """Serve delivery reports; a fatal producer error surfaces here as a TransactionError."""
        try:
            self._producer.poll(0)
        except KafkaException as exc:
            raise _translate(exc, "poll") from exc

    def begin(self) -> None:
        """Start a transaction if none is open (exactly-once only)."""
        if self._txn_id is not None and not self._in_txn:
            try:
                self._producer.begin_transaction()
            except KafkaException as exc:
                raise _translate(exc, "begin_transaction") from exc
            self._in_txn = True
            self._began = time.monotonic()

    @property
    def in_transaction(self) -> bool:
        return self._in_txn

    @property
    def transaction_age_s(self) -> float | None:
        """Seconds since the latest transaction began (None before the first)."""
        return None if self._began is None else time.monotonic() - self._began

    # -- the protocol -------------------------------------------------------------------
    def commit(self, tasks: list[Task], consumer: Any) -> list[TopicPartition]:
        """Make every task's progress durable and return the input offsets committed; raises
        TransactionError/ProducerFencedError."""
        self.rejected = False
        self._owner_checked = False
        if self._txn_id is not None and not self._in_txn:
            if not any(task.has_pending_writes() for task in tasks):
                return []
            self.begin()  # store writes alone open a transaction: their changelog needs one
        started = time.monotonic()
        written: set[tuple[str, int]] = set()
        for task in tasks:  # step 2: changelogs, coalesced, stamped with the wall clock
            written.update(
                (topic, task.partition) for topic in task.produce_changelogs(self.produce_all)
            )
        offsets = [
            TopicPartition(topic, task.partition, offset)
            for task in tasks
            for topic, offset in task.offsets.items()
        ]
        try:
            if self._txn_id is not None:
                if offsets:  # steps 3-4
                    self._send_offsets(offsets, consumer.consumer_group_metadata())
                self._producer.commit_transaction(_TIMEOUT_S)
                self._in_txn = False
            else:
                remaining = self._producer.flush(_TIMEOUT_S)
                if remaining or self._delivery_errors:
                    raise TransactionError(
                        f"{remaining} records undelivered; errors: {self._delivery_errors}"
                    )
                if offsets:
                    consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            with contextlib.suppress(Exception):
                self._producer.poll(0)  # serve the delivery reports that say why
            self.rejected = self._rejected_since_commit or exc.args[0].code() in _REJECTIONS
            self._rejected_since_commit = False
            raise _translate(exc, "commit") from exc
        self._rejected_since_commit = False
        self.positions.harvest()  # step 5
        for task in tasks:
            task.flush_stores(self.positions.get)
        self.positions.refresh(written)
        self.metrics.committed(time.monotonic() - started, self._produced)
        self._produced = {}
        self._owner_checked = bool(offsets)
        return offsets

    def _send_offsets(self, offsets: list[TopicPartition], group: Any) -> None:
        producer = self._producer
        try:
            call_bounded(
                lambda: producer.send_offsets_to_transaction(offsets, group, _TIMEOUT_S),
                _TIMEOUT_S + _STUCK_GRACE_S,
                "send_offsets_to_transaction",
            )
        except CallStuck as exc:
            # seen after a broker was killed: the call never returned and the worker stopped
            # polling for good; abort() replaces this producer
            self._stuck.append(producer)
            raise TransactionError(f"commit failed: {exc} (librdkafka #5456/#5511)") from exc

    def settle_offsets(self, tasks: list[Task], consumer: Any) -> None:
        """On a clean close: record exact changelog end offsets after the last commit."""
        tps = [
            (ts.spec.changelog, task.partition)
            for task in tasks
            for ts in task.stores.values()
            if ts.spec.changelog
        ]
        if not tps:
            return
        if not self._owner_checked:
            # unchecked (nothing committed just now), this member may have been dropped from
            # the group meanwhile, and the changelog's end then includes a new owner's
            # records its stores lack: recording that end made a later restore skip them
            # (seen after a restore in on_assign outlasted the rebalance timeout). Have the
            # broker check it: the same offsets again, in a transaction of their own.
            self._check_owner(tasks, consumer)
        if not self._owner_checked:
            return
        self.positions.harvest(wait=True)
        self.positions.refresh(tps)
        self.positions.harvest(wait=True)
        for task in tasks:
            for ts in task.stores.values():
                changelog = ts.spec.changelog
                offset = self.positions.get(changelog, task.partition) if changelog else None
                if offset is not None:
                    ts.buffered.flush(offset)

    def _check_owner(self, tasks: list[Task], consumer: Any) -> None:
        """Exactly-once: commit the tasks' input offsets again (nothing else is pending), so
        that the group coordinator confirms this member still owns them; any failure leaves
        the ownership unchecked (the recorded changelog offsets stay lower bounds)."""
        offsets = [
            TopicPartition(topic, task.partition, offset)
            for task in tasks
            for topic, offset in task.offsets.items()
        ]
        if self._txn_id is None or self._in_txn or not offsets:
            return
        try:
            self.begin()
            self._send_offsets(offsets, consumer.consumer_group_metadata())
            self._producer.commit_transaction(_TIMEOUT_S)
            self._in_txn = False
        except (KafkaException, StreamletError) as exc:
            log.info("ownership not confirmed at close (%s): changelog offsets stay bounds", exc)
            with contextlib.suppress(Exception):
                self.abort()
            return
        self._owner_checked = True

    def abort(self) -> None:
        """Abort the open transaction (if any); raises ProducerFencedError when fenced."""
        self._delivery_errors.clear()
        self._produced.clear()
        if self._txn_id is None:
            self._producer.purge()
            return
        if not self._in_txn:
            return
        self.metrics.aborted()
        if self._stuck and self._stuck[-1] is self._producer:
            # still inside send_offsets_to_transaction: a new producer for the same id
            # fences it and aborts its transaction
            self.recreate_producer()
            return
        try:
            self._producer.abort_transaction(_TIMEOUT_S)
        except KafkaException as exc:
            raise _translate(exc, "abort") from exc
        finally:
            self._in_txn = False
            self._rejected_since_commit = False  # the aborted records' reports are in

    def close(self, *, clean: bool = True) -> None:
        """Deliver what is queued (clean) or drop it (after a failure)."""
        try:
            if clean:
                self._producer.flush(_TIMEOUT_S)
            else:
                self._producer.purge()
                self._producer.flush(0)
        except Exception as exc:  # the producer may be in a fatal state already
            log.debug("closing the producer: %s", exc)


# broker answers that blame the records produced, not the producer or the broker's health
# (errors that a broker bounce can cause too, such as an unknown partition, are left out: a
# transient fault must never be pinned on a record)
_REJECTIONS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.RECORD_LIST_TOO_LARGE,
    }
)


def _translate(exc: KafkaException, step: str) -> TransactionError:
    """Fenced (a newer producer owns this transactional id) is final for this worker; other
    fatal errors need a new producer; the rest need an abort."""
    err: KafkaError = exc.args[0]
    message = (
        f"{step} failed: {err.str()} (code {err.name()}, "
        f"abortable={err.txn_requires_abort()}, fatal={err.fatal()})"
    )
    if err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED):
        return ProducerFencedError(
            message + "; another worker now uses this transactional id", fatal=True
        )
    return TransactionError(message, fatal=err.fatal())
