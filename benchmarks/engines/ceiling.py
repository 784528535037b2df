"""The ceiling: a bare confluent-kafka consume -> produce loop, no framework.

Exactly-once: one transactional producer; a transaction is begun at the first batch after a
commit, and every ``commit_interval_ms`` the loop sends the consumed offsets into it and commits.
At-least-once: the same loop, with ``flush()`` and a synchronous offset commit instead.

A ceiling only if it does what streamlet's worker does with less: the same JSON library
(orjson), the same consume batching (``_BATCH`` and ``_next_batch`` of
streamlet/runtime/worker.py), the same producer and consumer settings
(streamlet/kafka/clients.py: ``linger.ms`` 5, the murmur2 partitioner, delivery reports only
on error, ``fetch.wait.max.ms`` 50), and in the loop no more than the output needs: one
handler per workload chosen once, its names bound to locals.

W2 and W3 keep their counts in a dict and, like the frameworks with their record caches,
write the output and a changelog coalesced to the last count per key per commit; W3 first re-keys
through a repartition topic that the same consumer reads back, as Kafka Streams does with one
stream thread. On start the counts are restored from the changelog (batches of 10,000, as
streamlet's restore reads them), and it prints the line streamlet logs,
``restored N records (K distinct-key writes) in S s (R records/s)``, for the restore phase.

W4 is a dict of windows per partition (``{start: {key: count}}``) and a stream time per
partition; emit on close forwards and forgets every window whose ``end + grace`` the stream
time reached, emit on update forwards each new count. Its changelog holds the last count of
each window touched since the last commit. W4 has no restore phase, so nothing is restored;
and closed windows are not recorded as emitted (a crash could emit one again): a ceiling.

Run: ``python -m benchmarks.engines.ceiling`` with the ``BENCH_*`` environment (see spec.py).
"""

from __future__ import annotations

import signal
import struct
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from benchmarks.engines.logic import enrich, keep, regroup
from benchmarks.engines.marker import FirstInputMarker
from benchmarks.engines.spec import GRACE_MS, WINDOW_MS, EngineSpec

_BATCH = 2000  # streamlet/runtime/worker.py's
_MAX_WAIT_S = 0.05  # its poll when nothing is queued
_RESTORE_BATCH = 10_000  # streamlet/runtime/restore.py's _BATCH and _FETCH_WAIT_S
_RESTORE_WAIT_S = 0.05
_INT64 = struct.Struct(">q")
_CLOSE_AFTER_MS = WINDOW_MS + GRACE_MS  # a window closes when stream time >= start + this


class CeilingLoop:
    def __init__(self, spec: EngineSpec) -> None:
        self._spec = spec
        self._stopping = False
        self._mark = FirstInputMarker(spec.marker_path)
        self._counts: dict[bytes, int] = {}
        # keys counted since the last commit -> their changelog partition (the count is in
        # _counts: no tuple per record); W4's windowed keys -> (count, partition)
        self._dirty: dict[bytes, tuple[int, int]] = {}  # key -> (partition, timestamp)
        self._dirty_windows: dict[bytes, tuple[int, int]] = {}
        self._offsets: dict[tuple[str, int], int] = {}
        self._windows: dict[int, dict[int, dict[bytes, int]]] = {}  # partition -> start -> ...
        self._stream_time: dict[int, int] = {}
        self.late = 0
        self._in_txn = False
        self._delivery_error: str | None = None
        # streamlet/kafka/clients.py's consumer_config and producer_config, less the options
        # that only matter to a group of several members or to user overrides
        self._consumer = Consumer(
            {
                "bootstrap.servers": spec.bootstrap,
                "group.id": spec.app_id,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "range",
                "fetch.wait.max.ms": 50,
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
            }
        )
        producer_conf: dict[str, Any] = {
            "bootstrap.servers": spec.bootstrap,
            "linger.ms": 5,
            "partitioner": "murmur2_random",
            "transaction.timeout.ms": 10000,
            "delivery.report.only.error": True,
            "enable.idempotence": True,
            "on_delivery": self._on_delivery,
        }
        if spec.exactly_once:
            producer_conf["transactional.id"] = f"{spec.app_id}-ceiling-0"
        self._producer = Producer(producer_conf)
        handlers: dict[str, Callable[[list[Any]], None]] = {
            "w1": self._w1,
            "w2": self._count,
            "w3": self._w3,
            "w4": self._windowed,
            "w4u": self._windowed,
        }
        self._process = handlers[spec.workload]

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None and self._delivery_error is None:
            self._delivery_error = str(err)

    def stop(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        self._stopping = True

    def run(self) -> None:
        if self._spec.exactly_once:
            self._producer.init_transactions()
        if self._spec.workload in ("w2", "w3"):
            self._restore()
        topics = [self._spec.input_topic]
        if self._spec.workload == "w3":
            topics.append(self._spec.repartition_topic)
        self._consumer.subscribe(topics)
        interval = self._spec.commit_interval_ms / 1000.0
        due = time.monotonic() + interval
        consume, poll = self._consumer.consume, self._consumer.poll
        try:
            while not self._stopping:
                # streamlet's _next_batch: what is queued, up to a batch, without waiting;
                # when nothing is, wait for the first record only
                messages = consume(_BATCH, timeout=0)
                if not messages:
                    first = poll(_MAX_WAIT_S)
                    if first is not None:
                        messages = [first, *consume(_BATCH - 1, timeout=0)]
                if messages:
                    self._mark()
                    if self._spec.exactly_once and not self._in_txn:
                        self._producer.begin_transaction()
                        self._in_txn = True
                    self._process(messages)
                self._producer.poll(0)
                if self._delivery_error is not None:
                    raise KafkaException(self._delivery_error)
                if time.monotonic() >= due:
                    self._commit()
                    due = time.monotonic() + interval
            self._commit()
        finally:
            self._consumer.close()

    # One handler per workload, each a loop with its names bound to locals. A consumed record
    # always has a topic, partition, offset and timestamp, and these engines never send null
    # keys (Any, not Message: Optional checks would only cost). error() is checked per record:
    # a consumer error must not pass as a record.

    def _w1(self, messages: list[Any]) -> None:
        topic_out = self._spec.output_topic
        produce, loads, dumps = self._producer.produce, orjson.loads, orjson.dumps
        offsets = self._offsets
        for msg in messages:
            if msg.error() is not None:
                self._error(msg)
                continue
            value = loads(msg.value())
            if keep(value):
                out = dumps(enrich(value))
                try:
                    produce(topic_out, out, msg.key(), -1, None, None, msg.timestamp()[1])
                except BufferError:
                    self._produce(topic_out, msg.key(), out, None, msg.timestamp()[1])
            offsets[(msg.topic(), msg.partition())] = msg.offset() + 1

    def _count(self, messages: list[Any]) -> None:
        # the output is coalesced like the changelog: the newest count of each key counted
        # since the last commit goes out at the commit, as the frameworks' record caches
        # (Kafka Streams' default, streamlet's as benchmarked) forward it
        counts, dirty, offsets = self._counts, self._dirty, self._offsets
        get = counts.get
        for msg in messages:
            if msg.error() is not None:
                self._error(msg)
                continue
            key = msg.key()
            partition = msg.partition()
            counts[key] = get(key, 0) + 1
            dirty[key] = (partition, msg.timestamp()[1])
            offsets[(msg.topic(), partition)] = msg.offset() + 1

    def _w3(self, messages: list[Any]) -> None:
        """Input records are re-keyed into the repartition topic; its records are counted."""
        topic_in, topic_through = self._spec.input_topic, self._spec.repartition_topic
        produce, loads = self._producer.produce, orjson.loads
        offsets = self._offsets
        counted: list[Any] = []
        for msg in messages:
            if msg.error() is not None:
                self._error(msg)
                continue
            topic = msg.topic()
            if topic != topic_in:
                counted.append(msg)
                continue
            value = msg.value()
            new_key = regroup(loads(value))
            try:
                produce(topic_through, value, new_key, -1, None, None, msg.timestamp()[1])
            except BufferError:
                self._produce(topic_through, new_key, value, None, msg.timestamp()[1])
            offsets[(topic, msg.partition())] = msg.offset() + 1
        if counted:
            self._count(counted)

    def _windowed(self, messages: list[Any]) -> None:
        window, offsets = self._window, self._offsets
        for msg in messages:
            if msg.error() is not None:
                self._error(msg)
                continue
            partition = msg.partition()
            window(msg.key(), partition, msg.timestamp()[1])
            offsets[(msg.topic(), partition)] = msg.offset() + 1

    @staticmethod
    def _error(msg: Any) -> None:
        err = msg.error()
        if err.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(err)

    def _window(self, key: bytes, partition: int, timestamp: int) -> None:
        spec = self._spec
        st = self._stream_time.get(partition, -1)
        start = timestamp - timestamp % WINDOW_MS
        if start + _CLOSE_AFTER_MS <= st:
            self.late += 1
            return
        windows = self._windows.setdefault(partition, {})
        counts = windows.get(start)
        if counts is None:
            counts = windows[start] = {}
        count = counts.get(key, 0) + 1
        counts[key] = count
        windowed = key + _INT64.pack(start)
        self._dirty_windows[windowed] = (count, partition)
        if not spec.emit_on_close:
            self._produce(spec.output_topic, windowed, _INT64.pack(count), None, timestamp)
        if timestamp <= st:
            return
        self._stream_time[partition] = timestamp
        for closed in [s for s in windows if s + _CLOSE_AFTER_MS <= timestamp]:
            finals = windows.pop(closed)  # on update, closed windows are just forgotten
            if spec.emit_on_close:
                for k, c in finals.items():
                    out = k + _INT64.pack(closed)
                    self._produce(spec.output_topic, out, _INT64.pack(c), None, timestamp)

    def _produce(
        self,
        topic: str,
        key: str | bytes | None,
        value: str | bytes | None,
        partition: int | None,
        timestamp: int,
    ) -> None:
        if self._spec.exactly_once and not self._in_txn:
            self._producer.begin_transaction()
            self._in_txn = True
        while True:  # the slow path: the producer's queue is full, or a changelog record
            try:
                # positional (topic, value, key, partition, on_delivery, callback, timestamp):
                # keyword arguments cost confluent-kafka ~0.5 us per call
                part = -1 if partition is None else partition
                self._producer.produce(topic, value, key, part, None, None, timestamp)
                return
            except BufferError:
                self._producer.poll(0.01)

    def _commit(self) -> None:
        if not self._offsets and not self._dirty and not self._dirty_windows:
            return
        changelog, counts, pack = self._spec.changelog_topic, self._counts, _INT64.pack
        output = self._spec.output_topic
        for key, (partition, timestamp) in self._dirty.items():
            value = pack(counts[key])
            self._produce(output, key, value, None, timestamp)
            self._produce(changelog, key, value, partition, 0)  # 0: stamped when produced
        for key, (count, partition) in self._dirty_windows.items():
            self._produce(changelog, key, pack(count), partition, 0)
        self._dirty.clear()
        self._dirty_windows.clear()
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._offsets.items()]
        if self._spec.exactly_once:
            if not self._in_txn:
                self._producer.begin_transaction()
            metadata = self._consumer.consumer_group_metadata()
            self._producer.send_offsets_to_transaction(offsets, metadata)
            self._producer.commit_transaction()
            self._in_txn = False
        else:
            self._producer.flush()
            self._consumer.commit(offsets=offsets, asynchronous=False)
        self._offsets.clear()

    def _restore(self) -> None:
        """Read the committed changelog to its end into the dict, before consuming input."""
        started = time.monotonic()
        records = 0
        reader = Consumer(  # streamlet's restore_consumer_config
            {
                "bootstrap.servers": self._spec.bootstrap,
                "group.id": f"{self._spec.app_id}-restore",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.wait.max.ms": 10,
                "fetch.queue.backoff.ms": 10,  # as streamlet's (librdkafka's 1 s caps a replay)
                "enable.partition.eof": True,
            }
        )
        try:
            meta = reader.list_topics(self._spec.changelog_topic, timeout=30)
            partitions = list(meta.topics[self._spec.changelog_topic].partitions)
            reader.assign([TopicPartition(self._spec.changelog_topic, p, 0) for p in partitions])
            remaining = set(partitions)
            counts, unpack = self._counts, _INT64.unpack
            while remaining:
                for msg in reader.consume(_RESTORE_BATCH, timeout=_RESTORE_WAIT_S):
                    err = msg.error()
                    if err is None:
                        records += 1
                        key, value = msg.key(), msg.value()
                        if key is not None and value is not None:
                            counts[key] = unpack(value)[0]
                    elif err.code() == KafkaError._PARTITION_EOF:
                        remaining.discard(msg.partition())
                    else:
                        raise KafkaException(err)
        finally:
            reader.close()
        elapsed = time.monotonic() - started
        # the words of streamlet's restore log line (benchmarks/restore_report.py reads both)
        print(
            f"ceiling: restored {records} records ({len(self._counts)} distinct-key writes) in "
            f"{elapsed:.2f} s ({records / max(elapsed, 1e-9):.0f} records/s)",
            file=sys.stderr,
            flush=True,
        )


def main() -> None:
    spec = EngineSpec.from_env()
    if spec.workload == "w5":
        # a join needs a table store and its ordering against the stream: not a bare loop
        raise SystemExit("ceiling: W5 (stream-table join) is not implemented for the ceiling")
    loop = CeilingLoop(spec)
    signal.signal(signal.SIGTERM, loop.stop)
    signal.signal(signal.SIGINT, loop.stop)
    loop.run()


if __name__ == "__main__":
    main()
