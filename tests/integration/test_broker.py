"""The local broker is a real, transactional Apache Kafka."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from streamlet.kafka.admin import Admin

from support import produce, read_all

pytestmark = pytest.mark.integration


def _drain(bootstrap: str, topic: str, isolation: str) -> list[bytes | None]:
    msgs = read_all(bootstrap, topic, committed=isolation == "read_committed", idle=3.0)
    return [m.value for m in msgs]


def test_transactions_show_only_committed_records_to_read_committed(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str]
) -> None:
    topic = make_topics("txn")
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("txn-id")})
    producer.init_transactions(30)

    producer.begin_transaction()
    producer.produce(topic, b"committed-1")
    producer.produce(topic, b"committed-2")
    producer.commit_transaction(30)

    producer.begin_transaction()
    producer.produce(topic, b"aborted-1")
    producer.flush(30)
    producer.abort_transaction(30)

    assert _drain(bootstrap, topic, "read_committed") == [b"committed-1", b"committed-2"]
    assert _drain(bootstrap, topic, "read_uncommitted") == [
        b"committed-1",
        b"committed-2",
        b"aborted-1",
    ]


def test_send_offsets_to_transaction_commits_group_offsets(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str]
) -> None:
    source = make_topics("src")
    sink = make_topics("sink")
    group = unique("group")
    produce(bootstrap, source, [(None, f"v{i}".encode()) for i in range(5)])

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(source, 0, 0)])
    got: list[bytes] = []
    while len(got) < 3:
        got.extend(m.value() for m in consumer.consume(num_messages=3 - len(got), timeout=1.0))

    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("txn-id")})
    producer.init_transactions(30)
    producer.begin_transaction()
    for value in got:
        producer.produce(sink, value.upper())
    producer.send_offsets_to_transaction(
        [TopicPartition(source, 0, 3)], consumer.consumer_group_metadata(), 30
    )
    producer.commit_transaction(30)
    consumer.close()

    admin = Admin(bootstrap)
    assert admin.committed_offsets(group, source) == {0: 3}
    assert _drain(bootstrap, sink, "read_committed") == [b"V0", b"V1", b"V2"]
    assert admin.end_offsets(sink, committed_only=True) == admin.end_offsets(
        sink, committed_only=False
    )
