"""Consumer lag of an application's group, read from the broker (the app may be down)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from confluent_kafka import IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from streamlet.errors import TopicError
from streamlet.kafka.admin import Admin
from streamlet.topology.topology import Topology

_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PartitionLag:
    """``committed`` is None when the group never committed this partition; its lag then
    counts every record still on the partition (the app starts from the earliest)."""

    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


def input_topics(topology: Topology) -> list[str]:
    """What the group reads: the user's source topics and the repartition topics."""
    return topology.source_topics()


def partition_counts(admin: Admin, topology: Topology) -> dict[str, int]:
    """Partition counts of the app's input topics; a user source topic must exist, an
    internal one may not yet (the app never ran)."""
    described = admin.describe(input_topics(topology))
    missing = [t for t in topology.user_source_topics() if described[t] is None]
    if missing:
        raise TopicError(f"source topics {missing} do not exist", topic=missing[0])
    return {t: info.partitions for t, info in described.items() if info is not None}


def list_offsets(
    admin: Admin, partitions: list[TopicPartition], spec: OffsetSpec
) -> dict[tuple[str, int], int]:
    """One ``list_offsets`` call for every partition; read_committed like the app reads."""
    if not partitions:
        return {}
    futures = admin.client.list_offsets(
        {tp: spec for tp in partitions},
        isolation_level=IsolationLevel.READ_COMMITTED,
        request_timeout=_TIMEOUT_S,
    )
    try:
        return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}
    except KafkaException as exc:
        raise TopicError(f"could not list offsets: {exc.args[0].str()}") from exc


def committed(
    admin: Admin, group: str, partitions: list[TopicPartition]
) -> dict[tuple[str, int], int]:
    """The group's committed offsets (absent when it has none for a partition)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    if not partitions:
        return {}
    futures = admin.client.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, partitions)], request_timeout=_TIMEOUT_S
    )
    try:
        result = futures[group].result()
    except KafkaException as exc:
        raise TopicError(f"could not read the offsets of group {group!r}: {exc}") from exc
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def consumer_lag(admin: Admin, topology: Topology, group: str) -> list[PartitionLag]:
    """Per input partition: committed offset, end (last stable) offset and lag."""
    counts = partition_counts(admin, topology)
    tps = [TopicPartition(t, p) for t in sorted(counts) for p in range(counts[t])]
    ends = list_offsets(admin, tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
    starts = list_offsets(admin, tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
    done = committed(admin, group, tps)
    read_from = {
        key: starts[key] if key not in done else max(done[key], starts[key]) for key in ends
    }
    behind = {key: at for key, at in read_from.items() if at < ends[key]}
    first = _first_records(admin, behind) if behind else {}
    out: list[PartitionLag] = []
    for tp in tps:
        key = (tp.topic, tp.partition)
        lag = ends[key] - first[key] if key in first else 0
        out.append(PartitionLag(tp.topic, tp.partition, done.get(key), ends[key], max(0, lag)))
    return out


def _first_records(
    admin: Admin, positions: dict[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """The offset of the first record a read_committed consumer gets at each position;
    absent when it reaches the end first. Offsets between the committed one and the end may
    be transaction markers only (every transactional write ends with one), which no
    consumer ever receives: counting them would show a finished app as lagging."""
    from confluent_kafka import Consumer, KafkaError

    consumer = Consumer(
        {
            "bootstrap.servers": admin.bootstrap_servers,
            "group.id": "streamlet-lag-probe",  # assign-only: never joins, never commits
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            **admin.client_settings,
        }
    )
    found: dict[tuple[str, int], int] = {}
    pending = set(positions)
    try:
        consumer.assign([TopicPartition(t, p, at) for (t, p), at in positions.items()])
        deadline = time.monotonic() + _TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.2):
                key = (msg.topic(), msg.partition())
                if key not in pending:
                    continue
                error = msg.error()
                if error is None:
                    found[key] = msg.offset() or 0
                elif error.code() != KafkaError._PARTITION_EOF:
                    continue
                pending.discard(key)
    finally:
        consumer.close()
    for key in pending:  # unanswered: count every offset rather than guess zero
        found[key] = positions[key]
    return found


def render_text(rows: list[PartitionLag]) -> str:
    header = ("TOPIC", "PARTITION", "COMMITTED", "END", "LAG")
    table = [header] + [
        (
            r.topic,
            str(r.partition),
            "-" if r.committed is None else str(r.committed),
            str(r.end),
            str(r.lag),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.append(f"total lag: {sum(r.lag for r in rows)}")
    return "\n".join(lines)


def render_json(rows: list[PartitionLag]) -> str:
    return json.dumps({"partitions": [asdict(r) for r in rows]})
