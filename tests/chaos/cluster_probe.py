"""The cluster chaos test's Kafka clients, each in a subprocess of its own.

While a broker is down, librdkafka clients in the test process itself crashed it twice with
SIGSEGV (its admin OffsetFetch and metadata paths have known crashes on coordinator and
leader changes). A crash here only costs a probe, which the test restarts; the feeder's
records are all acknowledged before it reports how many it sent.

``python cluster_probe.py probe BOOTSTRAP GROUP``: answers one JSON line per request line
(``committed TOPIC PARTITIONS``, ``leaders T1,T2``, ``replicated T1,T2``); ``null`` when
the cluster did not answer in time.
``python cluster_probe.py feed BOOTSTRAP TOPIC RATE SEED``: produces until stdin closes,
then flushes and prints the number of records sent.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient


def _committed(consumer: Consumer, topic: str, partitions: int) -> dict[int, int] | None:
    # a consumer of the group (never subscribed, so never a member) reads its offsets through
    # the group coordinator like a member would, not through the admin OffsetFetch path
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    try:
        got = consumer.committed(tps, timeout=5.0)
    except KafkaException:
        return None
    return {tp.partition: tp.offset for tp in got if tp.offset >= 0}


def _leaders(admin: AdminClient, topics: list[str]) -> dict[int, int]:
    meta = admin.list_topics(timeout=5.0)
    led: dict[int, int] = {}
    for name in topics:
        topic = meta.topics.get(name)
        for p in topic.partitions.values() if topic else ():
            if p.leader >= 0:
                led[p.leader] = led.get(p.leader, 0) + 1
    return led


def _replicated(admin: AdminClient, topics: list[str]) -> bool:
    meta = admin.list_topics(timeout=5.0)
    return all(
        name in meta.topics
        and all(len(p.isrs) == len(p.replicas) for p in meta.topics[name].partitions.values())
        for name in topics
    )


def probe(bootstrap: str, group: str) -> None:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for line in sys.stdin:
        verb, *args = line.split()
        answer: Any
        try:
            if verb == "committed":
                answer = _committed(consumer, args[0], int(args[1]))
            elif verb == "leaders":
                answer = _leaders(admin, args[0].split(","))
            else:
                answer = _replicated(admin, args[0].split(","))
        except KafkaException:
            answer = None
        print(json.dumps(answer), flush=True)


def feed(bootstrap: str, topic: str, rate: int, seed: int) -> None:
    import threading

    from support import RandomFeeder

    feeder = RandomFeeder(bootstrap, topic, rate=rate, seed=seed)
    feeder.start()
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    print(feeder.stop(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3])
    else:
        feed(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
