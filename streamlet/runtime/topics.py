"""Start-up topic checks: user topics must exist; internal topics are created or validated."""

from __future__ import annotations

from streamlet.errors import TopicError, TopologyError
from streamlet.kafka.admin import Admin
from streamlet.topology.nodes import SinkNode
from streamlet.topology.topology import Topology


def prepare_topics(
    admin: Admin,
    topology: Topology,
    dead_letter_topic: str | None = None,
    replication_factor: int = -1,
) -> dict[str, int]:
    """Partition counts of every topic the topology touches, creating internal ones (and the
    dead-letter topic when a policy sends records there) with ``replication_factor``
    replicas (-1: the broker's default)."""
    user_sinks = sorted(
        {n.topic for n in topology.nodes.values() if isinstance(n, SinkNode) and not n.internal}
    )
    user = sorted(set(topology.user_source_topics()) | set(user_sinks))
    described = admin.describe(user)
    missing = [t for t in user if described[t] is None]
    if missing:
        kinds = ", ".join(
            f"{t!r} ({'source' if t in topology.user_source_topics() else 'sink'})" for t in missing
        )
        raise TopicError(
            f"missing topics: {kinds}; create them before starting the app", topic=missing[0]
        )
    counts: dict[str, int] = {t: info.partitions for t, info in described.items() if info}
    for t, spec in topology.internal_topics.items():
        if spec.partitions is not None:
            counts[t] = spec.partitions
    writer = {
        n.topic: sub
        for sub in topology.subtopologies
        for n in sub.nodes
        if isinstance(n, SinkNode) and n.internal
    }
    sub_parts: dict[int, int] = {}
    for _ in range(len(topology.subtopologies) + 1):  # until every count is known
        for sub in topology.subtopologies:
            known = {counts[t] for t in sub.source_topics if t in counts}
            if len(known) > 1:
                raise TopologyError(
                    f"sub-topology {sub.id} reads topics with different partition counts: "
                    + ", ".join(f"{t}={counts.get(t)}" for t in sub.source_topics)
                )
            if known:
                sub_parts[sub.id] = known.pop()
                # a repartition topic of unset size read next to sized topics (a join after
                # a key change) takes their count, as Kafka Streams co-partitions it
                for t in sub.source_topics:
                    if t not in counts and t in topology.internal_topics:
                        counts[t] = sub_parts[sub.id]
        for topic, sub in writer.items():
            if topology.internal_topics[topic].follows_readers:
                continue  # sized like the topics read beside it, never by its writer
            if topic not in counts and sub.id in sub_parts:
                counts[topic] = sub_parts[sub.id]
    for sub in topology.subtopologies:
        if sub.id not in sub_parts:
            raise TopologyError(f"cannot derive the partition count of sub-topology {sub.id}")
        for store in sub.stores:
            changelog = topology.stores[store].changelog
            if changelog:
                counts[changelog] = sub_parts[sub.id]
    for name, spec in topology.internal_topics.items():
        admin.ensure_topic(name, counts[name], dict(spec.config), replication_factor)
    if dead_letter_topic is not None:
        existing = admin.describe([dead_letter_topic])[dead_letter_topic]
        if existing is None:
            partitions = max(sub_parts.values())
            admin.ensure_topic(dead_letter_topic, partitions, {}, replication_factor)
        else:
            partitions = existing.partitions
        counts[dead_letter_topic] = partitions
    return counts
