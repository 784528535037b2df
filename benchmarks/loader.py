"""Producing input: the bulk pre-load, the paced stream for latency, single probe records."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer, TopicPartition

from benchmarks.data import (
    KEY_COUNT,
    LATENCY_AMOUNT,
    TICK_INTERVAL_S,
    TICK_KEY,
    USER_ROWS,
    Dataset,
    Joined,
    Windows,
    event_base_ms,
    event_time,
    generate,
    key_of,
    make_value,
    region_of,
    timed_partition,
    user_key,
    user_partition,
    user_value,
)
from benchmarks.engines.logic import AMOUNT_MIN
from benchmarks.engines.spec import GRACE_MS, WINDOW_MS

_TICK_S = 0.01


def _produce(
    producer: Producer,
    topic: str,
    key: str,
    value: bytes,
    timestamp: int = 0,
    partition: int = -1,
) -> None:
    while True:
        try:
            producer.produce(topic, value, key, partition, timestamp=timestamp)
            return
        except BufferError:
            producer.poll(0.05)


def _bulk_producer(bootstrap: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )


def _flush_and_check(producer: Producer, bootstrap: str, topic: str, records: int) -> None:
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"pre-load: {left} records still unsent after 120 s")
    landed = _topic_size(bootstrap, topic)
    if landed != records:
        raise RuntimeError(f"pre-load: {landed} records in {topic}, expected {records}")


def preload(bootstrap: str, topic: str, records: int) -> Dataset:
    """Load ``records`` records with a fast idempotent producer and check they all landed."""
    producer = _bulk_producer(bootstrap)
    key_counts = [0] * KEY_COUNT
    passing = 0
    started = time.monotonic()
    for n, (key, user, amount) in enumerate(generate(records)):
        _produce(producer, topic, key_of(key), make_value(n, user, amount))
        key_counts[key] += 1
        passing += amount >= AMOUNT_MIN
        if n % 10_000 == 0:
            producer.poll(0)
    _flush_and_check(producer, bootstrap, topic, records)
    elapsed = time.monotonic() - started
    return Dataset(topic, records, passing, tuple(key_counts), elapsed)


def preload_timed(bootstrap: str, topic: str, records: int, partitions: int) -> Windows:
    """W4's input: the same records with event times (data.py), partitioned by key; and how
    many windows a 1-minute tumbling count must output, computed from what was loaded."""
    producer = _bulk_producer(bootstrap)
    base = event_base_ms(records, int(time.time() * 1000))
    last = base
    windows: set[int] = set()  # (window start, key index) as one int, to stay small
    started = time.monotonic()
    for n, (key, user, amount) in enumerate(generate(records)):
        ts = event_time(base, n)
        p = timed_partition(key, partitions)
        _produce(producer, topic, key_of(key), make_value(n, user, amount), ts, p)
        last = max(last, ts)
        windows.add(((ts - base) // WINDOW_MS) * KEY_COUNT + key)
        if n % 10_000 == 0:
            producer.poll(0)
    _flush_and_check(producer, bootstrap, topic, records)
    elapsed = time.monotonic() - started
    last_end = base + ((last - base) // WINDOW_MS + 1) * WINDOW_MS
    return Windows(topic, base, len(windows), last_end + GRACE_MS + 1_000, elapsed)


def preload_joined(
    bootstrap: str, users_topic: str, views_topic: str, records: int, partitions: int
) -> Joined:
    """W5's inputs (data.py): the users table first, stamped an hour ago, then the page views
    keyed by user, stamped now; both partitioned by user number. Returns the count per region
    that a complete join-then-count must end with."""
    started = time.monotonic()
    producer = _bulk_producer(bootstrap)
    table_ms = int(time.time() * 1000) - 3_600_000  # before every page view's timestamp
    for user in range(USER_ROWS):
        p = user_partition(user, partitions)
        _produce(producer, users_topic, user_key(user), user_value(user), table_ms, p)
        if user % 10_000 == 0:
            producer.poll(0)
    _flush_and_check(producer, bootstrap, users_topic, USER_ROWS)
    counts: dict[str, int] = {}
    for n, (_key, user, amount) in enumerate(generate(records)):
        p = user_partition(user, partitions)
        _produce(producer, views_topic, user_key(user), make_value(n, user, amount), partition=p)
        region = region_of(user)
        counts[region] = counts.get(region, 0) + 1
        if n % 10_000 == 0:
            producer.poll(0)
    _flush_and_check(producer, bootstrap, views_topic, records)
    elapsed = time.monotonic() - started
    return Joined(users_topic, views_topic, USER_ROWS, dict(sorted(counts.items())), elapsed)


class Ticker:
    """Appends a tick (data.py) to every partition of W4's input at most every
    ``TICK_INTERVAL_S``; ``maybe_tick()`` is called from the harness's polling loop."""

    def __init__(self, bootstrap: str, windows: Windows, partitions: int) -> None:
        self._topic = windows.topic
        self._ts = windows.tick_ms
        self._partitions = partitions
        self._next = 0.0
        self.sent = 0
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
        )

    def maybe_tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + TICK_INTERVAL_S
        value = make_value(-1, 0, 0)
        for p in range(self._partitions):
            _produce(self._producer, self._topic, TICK_KEY, value, self._ts, p)
        self.sent += self._partitions
        self._producer.poll(0)

    def close(self) -> None:
        self._producer.flush(30)


def _topic_size(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-size-check"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        total = 0
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            total += high - low
        return total
    finally:
        consumer.close()


class LiveProducer:
    """Records stamped with the time they were produced (the Kafka record timestamp)."""

    def __init__(self, bootstrap: str, topic: str, partitioner: str | None = None) -> None:
        self._topic = topic
        self._n = 0
        conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
        if partitioner is not None:
            conf["partitioner"] = partitioner
        self._producer = Producer(conf)

    def send(self, key_index: int | None = None) -> int:
        """Produce one record now; return its timestamp in ms."""
        n = self._n
        self._n += 1
        key = n % KEY_COUNT if key_index is None else key_index
        now_ms = int(time.time() * 1000)
        value = make_value(n, n % KEY_COUNT, LATENCY_AMOUNT)
        _produce(self._producer, self._topic, key_of(key), value, timestamp=now_ms)
        self._producer.poll(0)
        return now_ms

    def paced(self, rate: int, seconds: float) -> int:
        """Produce ``rate`` records/s for ``seconds``, in 10 ms ticks; last timestamp in ms."""
        started = time.monotonic()
        sent = 0
        last = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= seconds:
                break
            due = int(elapsed * rate) + 1
            while sent < due:
                last = self.send()
                sent += 1
            time.sleep(_TICK_S)
        self.flush()
        return last

    def flush(self) -> None:
        self._producer.flush(30)


def prefill_changelog(bootstrap: str, topic: str, records: int) -> tuple[list[int], float]:
    """W2's store changelog as a count writes it, before the engine starts: ``records``
    records, keys ``k0..k9999`` in turn, each value the key's running count as 8 bytes
    big-endian (the plain long of Kafka Streams' timestamped count store too), stamped now,
    partitioned by murmur2 of the key as Kafka's default partitioner (and streamlet's) does.
    Returns the final count per key and the seconds the load took."""
    started = time.monotonic()
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    counts = [0] * KEY_COUNT
    keys = [key_of(k).encode() for k in range(KEY_COUNT)]
    now_ms = int(time.time() * 1000)
    produce = producer.produce
    for n in range(records):
        k = n % KEY_COUNT
        count = counts[k] + 1
        counts[k] = count
        value = count.to_bytes(8, "big", signed=True)
        while True:
            try:
                produce(topic, value, keys[k], timestamp=now_ms)
                break
            except BufferError:
                producer.poll(0.05)
        if n % 10_000 == 0:
            producer.poll(0)
    _flush_and_check(producer, bootstrap, topic, records)
    return counts, time.monotonic() - started
