"""The ceiling: a bare confluent-kafka consume -> produce loop, no framework.

Exactly-once: one transactional producer; a transaction is begun at the first produce after a
commit, and every ``commit_interval_ms`` the loop sends the consumed offsets into it and commits.
At-least-once: the same loop, with ``flush()`` and a synchronous offset commit instead.

W2 and W3 keep their counts in a dict and, like the frameworks, write a changelog (coalesced
to the last count per key per commit, which the frameworks may also do); W3 first re-keys
through a repartition topic that the same consumer reads back, as Kafka Streams does with one
stream thread. On start the counts are restored from the changelog, so the restore figure is
measured the same way as for the frameworks.

W4 is a dict of windows per partition (``{start: {key: count}}``) and a stream time per
partition; emit on close forwards and forgets every window whose ``end + grace`` the stream
time reached, emit on update forwards each new count. Its changelog holds the last count of
each window touched since the last commit. W4 has no restore phase, so nothing is restored;
and closed windows are not recorded as emitted (a crash could emit one again): a ceiling.

Run: ``python -m benchmarks.engines.ceiling`` with the ``BENCH_*`` environment (see spec.py).
"""

from __future__ import annotations

import json
import signal
import struct
import sys
import time
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from benchmarks.engines.logic import enrich, keep, regroup
from benchmarks.engines.marker import FirstInputMarker
from benchmarks.engines.spec import GRACE_MS, WINDOW_MS, EngineSpec

_BATCH = 1000
_MAX_WAIT_S = 0.05
_INT64 = struct.Struct(">q")
_CLOSE_AFTER_MS = WINDOW_MS + GRACE_MS  # a window closes when stream time >= start + this


class CeilingLoop:
    def __init__(self, spec: EngineSpec) -> None:
        self._spec = spec
        self._stopping = False
        self._mark = FirstInputMarker(spec.marker_path)
        self._counts: dict[bytes, int] = {}
        self._dirty: dict[bytes, tuple[int, int]] = {}  # key -> (count, changelog partition)
        self._offsets: dict[tuple[str, int], int] = {}
        self._windows: dict[int, dict[int, dict[bytes, int]]] = {}  # partition -> start -> ...
        self._stream_time: dict[int, int] = {}
        self.late = 0
        self._in_txn = False
        self._consumer = Consumer(
            {
                "bootstrap.servers": spec.bootstrap,
                "group.id": spec.app_id,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        producer_conf: dict[str, str | int | bool] = {"bootstrap.servers": spec.bootstrap}
        if spec.exactly_once:
            producer_conf["transactional.id"] = f"{spec.app_id}-ceiling-0"
            producer_conf["transaction.timeout.ms"] = 10_000
        else:
            producer_conf["enable.idempotence"] = True
        self._producer = Producer(producer_conf)

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
        try:
            while not self._stopping:
                # Take what is fetched already; only when there is nothing, block for one
                # record, and never past the next commit (a partial batch would wait).
                messages = self._consumer.consume(_BATCH, timeout=0)
                if not messages:
                    wait = min(_MAX_WAIT_S, max(0.0, due - time.monotonic()))
                    messages = self._consumer.consume(1, timeout=wait)
                if messages:
                    self._mark()
                    self._process(messages)
                self._producer.poll(0)
                if time.monotonic() >= due:
                    self._commit()
                    due = time.monotonic() + interval
            self._commit()
        finally:
            self._consumer.close()

    def _process(self, messages: list[Any]) -> None:
        # Any, not Message: a consumed record always has a topic, partition, offset and
        # timestamp, and these engines never send null keys; Optional checks would only cost.
        spec = self._spec
        workload = spec.workload
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(err)
            topic = msg.topic()
            partition = msg.partition()
            timestamp = msg.timestamp()[1]
            if workload == "w1":
                value = json.loads(msg.value())
                if keep(value):
                    out = json.dumps(enrich(value), separators=(",", ":"))
                    self._produce(spec.output_topic, msg.key(), out, None, timestamp)
            elif spec.windowed:
                self._window(msg.key(), partition, timestamp)
            elif workload == "w3" and topic == spec.input_topic:
                new_key = regroup(json.loads(msg.value()))
                self._produce(spec.repartition_topic, new_key, msg.value(), None, timestamp)
            else:
                key = msg.key()
                count = self._counts.get(key, 0) + 1
                self._counts[key] = count
                self._dirty[key] = (count, partition)
                self._produce(spec.output_topic, key, _INT64.pack(count), None, timestamp)
            self._offsets[(topic, partition)] = msg.offset() + 1

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
        self._dirty[windowed] = (count, partition)
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
        while True:
            try:
                if partition is None:
                    self._producer.produce(topic, value, key, timestamp=timestamp)
                else:
                    self._producer.produce(topic, value, key, partition, timestamp=timestamp)
                return
            except BufferError:
                self._producer.poll(0.01)

    def _commit(self) -> None:
        if not self._offsets and not self._dirty:
            return
        now = int(time.time() * 1000)
        for key, (count, partition) in self._dirty.items():
            self._produce(self._spec.changelog_topic, key, _INT64.pack(count), partition, now)
        self._dirty.clear()
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
        reader = Consumer(
            {
                "bootstrap.servers": self._spec.bootstrap,
                "group.id": f"{self._spec.app_id}-restore",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            meta = reader.list_topics(self._spec.changelog_topic, timeout=30)
            partitions = list(meta.topics[self._spec.changelog_topic].partitions)
            reader.assign([TopicPartition(self._spec.changelog_topic, p, 0) for p in partitions])
            remaining = set(partitions)
            while remaining:
                for msg in reader.consume(10_000, timeout=1.0):
                    err = msg.error()
                    key, value = msg.key(), msg.value()
                    if err is None:
                        if key is not None and value is not None:
                            self._counts[key] = _INT64.unpack(value)[0]
                    elif err.code() == KafkaError._PARTITION_EOF:
                        remaining.discard(msg.partition())
                    else:
                        raise KafkaException(err)
        finally:
            reader.close()
        elapsed = time.monotonic() - started
        print(f"ceiling: restored {len(self._counts)} keys in {elapsed:.2f}s", file=sys.stderr)


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
