"""Idempotent topic administration over confluent-kafka's AdminClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    ConfigResource,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from streamlet.errors import TopicError

_TIMEOUT_S = 30.0
_T = TypeVar("_T")

# Per-partition answers carry bare error codes whose retriable() flag is never set, so the
# transient leadership errors are named here (a new topic's leader settles just after creation).
_TRANSIENT = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_COORDINATOR,
    }
)


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    # the fewest replicas any partition has (metadata lists the assigned replicas)
    replication_factor: int = 0


class Admin:
    """The few admin calls streamlet needs, each blocking with a timeout."""

    def __init__(self, bootstrap_servers: str, config: Mapping[str, object] | None = None) -> None:
        conf: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap_servers}
        if config:
            conf.update(_admin_safe(config))
        self._client = AdminClient(conf)
        self.bootstrap_servers = bootstrap_servers
        # what another client of this cluster needs (security settings), for probes
        self.client_settings = _admin_safe(config or {})

    @property
    def client(self) -> AdminClient:
        """The underlying client, for asynchronous calls (changelog end offsets)."""
        return self._client

    def describe(self, topics: list[str]) -> dict[str, TopicInfo | None]:
        """Partition counts of ``topics``; None for a topic that does not exist."""
        meta = self._client.list_topics(timeout=_TIMEOUT_S)
        out: dict[str, TopicInfo | None] = {}
        for name in topics:
            topic = meta.topics.get(name)
            if topic is None or topic.error is not None:
                out[name] = None
            else:
                replicas = min((len(p.replicas) for p in topic.partitions.values()), default=0)
                out[name] = TopicInfo(name, len(topic.partitions), replicas)
        return out

    def ensure_topic(
        self,
        name: str,
        partitions: int,
        config: Mapping[str, str],
        replication_factor: int = -1,
    ) -> None:
        """Create ``name`` unless it exists; an existing one must match partitions and policy.

        ``replication_factor`` -1 is the broker's ``default.replication.factor``; an existing
        topic must have at least the one asked for. Either way the topic's replication factor
        must reach its ``min.insync.replicas``, or every acks=all write to it would fail."""
        futures = self._client.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    config=dict(config),
                )
            ],
            operation_timeout=_TIMEOUT_S,
            request_timeout=_TIMEOUT_S,
        )
        try:
            futures[name].result()
            self._await_metadata(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"could not create topic {name!r}: {exc}", topic=name) from exc
            self._validate(name, partitions, config, replication_factor)
        self._check_min_isr(name)

    def _check_min_isr(self, name: str) -> None:
        info = self._described(name)
        value = self.topic_config(name).get("min.insync.replicas")
        min_isr = int(value) if value else 1
        if info.replication_factor < min_isr:
            raise TopicError(
                f"topic {name!r} has replication factor {info.replication_factor}, below its "
                f"min.insync.replicas={min_isr}: every transactional write to it would fail; "
                "recreate it with more replicas or set replication_factor to at least "
                f"{min_isr}",
                topic=name,
            )

    def _described(self, name: str) -> TopicInfo:
        """``describe`` of a topic known to exist: metadata churn (a broker restarting, a
        controller moving) can hide it from one answer, so ask again for a while."""
        deadline = time.monotonic() + _TIMEOUT_S
        while True:
            info = self.describe([name])[name]
            if info is not None:
                return info
            if time.monotonic() > deadline:
                raise TopicError(f"topic {name!r} vanished while being validated", topic=name)
            time.sleep(0.2)

    def _await_metadata(self, name: str) -> None:
        """Creation is acknowledged before every metadata cache knows the topic; wait."""
        deadline = time.monotonic() + _TIMEOUT_S
        while not self._ready(name):
            if time.monotonic() > deadline:
                raise TopicError(f"topic {name!r} was created but never became visible", topic=name)
            time.sleep(0.05)

    def _ready(self, name: str) -> bool:
        topic = self._client.list_topics(name, timeout=_TIMEOUT_S).topics.get(name)
        return (
            topic is not None
            and topic.error is None
            and bool(topic.partitions)
            and all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
        )

    def _validate(
        self, name: str, partitions: int, config: Mapping[str, str], replication_factor: int
    ) -> None:
        info = self._described(name)
        if info.partitions != partitions:
            raise TopicError(
                f"topic {name!r} exists with {info.partitions} partitions; "
                f"this topology needs {partitions}",
                topic=name,
            )
        if info.replication_factor < replication_factor:
            raise TopicError(
                f"topic {name!r} exists with replication factor {info.replication_factor}; "
                f"this app asks for {replication_factor} (replication_factor)",
                topic=name,
            )
        policy = config.get("cleanup.policy")
        if policy is not None:
            actual = self.topic_config(name).get("cleanup.policy")
            if actual is not None and set(actual.split(",")) != set(policy.split(",")):
                raise TopicError(
                    f"topic {name!r} exists with cleanup.policy={actual}; "
                    f"this topology needs cleanup.policy={policy}",
                    topic=name,
                )

    def topic_config(self, name: str) -> dict[str, str]:
        resource = ConfigResource(ResourceType.TOPIC, name)

        def ask() -> dict[str, str]:
            result = self._client.describe_configs([resource], request_timeout=_TIMEOUT_S)
            entries = result[resource].result()
            return {key: entry.value for key, entry in entries.items()}

        # a topic just created can be unknown to the broker answering for a moment
        return _retrying(ask)

    def delete_topics(self, names: list[str]) -> None:
        if not names:
            return
        for name, future in self._client.delete_topics(names, operation_timeout=_TIMEOUT_S).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise TopicError(f"could not delete topic {name!r}: {exc}", topic=name) from exc

    def end_offsets(self, topic: str, *, committed_only: bool) -> dict[int, int]:
        """High watermarks (or, with ``committed_only``, last stable offsets) per partition."""
        from confluent_kafka import IsolationLevel

        info = self.describe([topic])[topic]
        if info is None:
            raise TopicError(f"topic {topic!r} does not exist", topic=topic)
        level = IsolationLevel.READ_COMMITTED if committed_only else IsolationLevel.READ_UNCOMMITTED
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(topic, p): latest for p in range(info.partitions)}

        def ask() -> dict[int, int]:
            futures = self._client.list_offsets(
                request, isolation_level=level, request_timeout=_TIMEOUT_S
            )
            return {tp.partition: future.result().offset for tp, future in futures.items()}

        return _retrying(ask)

    def committed_offsets(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offsets for ``topic``'s partitions (absent when none)."""
        from confluent_kafka import ConsumerGroupTopicPartitions

        info = self.describe([topic])[topic]
        if info is None:
            raise TopicError(f"topic {topic!r} does not exist", topic=topic)
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, p) for p in range(info.partitions)]
        )

        def ask() -> dict[int, int]:
            futures = self._client.list_consumer_group_offsets(
                [request], request_timeout=_TIMEOUT_S
            )
            result = futures[group].result()
            return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}

        return _retrying(ask)


def _retrying(ask: Callable[[], _T]) -> _T:
    """``ask()`` again while it fails with a transient error, for up to twice the admin
    timeout: one request can itself take the whole timeout to fail, and a broker bounce
    (controller election, leaders moving back) outlasted a single one (a worker starting
    during one died on "Timed out waiting for controller" in the 50-kill cluster run)."""
    deadline = time.monotonic() + 2 * _TIMEOUT_S
    while True:
        try:
            return ask()
        except KafkaException as exc:
            error = exc.args[0]
            transient = bool(error.retriable()) or error.code() in _TRANSIENT
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _admin_safe(config: Mapping[str, object]) -> dict[str, str | int | float | bool]:
    """Client-wide settings only: producer/consumer-only keys make AdminClient warn."""
    keep = (
        "security.",
        "sasl.",
        "ssl.",
        "client.",
        "socket.",
        "broker.",
        "reconnect.",
        "metadata.",
    )
    return {
        k: v
        for k, v in config.items()
        if k.startswith(keep) and isinstance(v, str | int | float | bool)
    }
