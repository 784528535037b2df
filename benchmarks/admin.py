"""Topic and consumer-group administration for one benchmark run, plus the broker's version."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import ConsumerGroupState, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

_TIMEOUT_S = 30.0
_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TopicRequest:
    name: str
    partitions: int
    compact: bool = False


class BenchAdmin:
    def __init__(self, bootstrap: str) -> None:
        self._client = AdminClient({"bootstrap.servers": bootstrap})

    def create_topics(self, requests: list[TopicRequest]) -> None:
        """Create ``requests``; a topic that already exists is an error (names are per run)."""
        if not requests:
            return
        topics = [
            NewTopic(
                r.name,
                num_partitions=r.partitions,
                replication_factor=1,
                config={"cleanup.policy": "compact"} if r.compact else {},
            )
            for r in requests
        ]
        for name, future in self._client.create_topics(topics, request_timeout=_TIMEOUT_S).items():
            try:
                future.result()
            except KafkaException as exc:
                raise RuntimeError(f"cannot create topic {name}: {exc}") from exc
        self._wait_visible([r.name for r in requests])

    def _wait_visible(self, names: list[str]) -> None:
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            known = self._client.list_topics(timeout=_TIMEOUT_S).topics
            if all(n in known and not known[n].error for n in names):
                return
            time.sleep(0.1)
        raise RuntimeError(f"topics {names} not visible after {_TIMEOUT_S}s")

    def wait_group_idle(self, group: str, timeout_s: float) -> bool:
        """Wait until ``group`` has no members; True when it does."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            futures = self._client.describe_consumer_groups([group], request_timeout=_TIMEOUT_S)
            try:
                state = futures[group].result().state
            except KafkaException:
                return True
            if state in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD):
                return True
            time.sleep(0.5)
        return False

    def delete_everything_of(self, run_id: str) -> list[str]:
        """Delete every topic and consumer group whose name contains ``run_id``."""
        topics = [t for t in self._client.list_topics(timeout=_TIMEOUT_S).topics if run_id in t]
        if topics:
            for future in self._client.delete_topics(topics, request_timeout=_TIMEOUT_S).values():
                _ignore_missing(future)
        listing = self._client.list_consumer_groups(request_timeout=_TIMEOUT_S).result()
        groups = [g.group_id for g in listing.valid if run_id in g.group_id]
        if groups:
            for future in self._client.delete_consumer_groups(
                groups, request_timeout=_TIMEOUT_S
            ).values():
                _ignore_missing(future)
        return topics


def _ignore_missing(future: Future[None]) -> None:
    try:
        future.result()
    except KafkaException as exc:
        code = exc.args[0].code() if exc.args else None
        if code not in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.GROUP_ID_NOT_FOUND):
            raise


def broker_version() -> str:
    """The version of the project's local broker, read from the jars ``scripts/kafka`` runs.

    Kafka's protocol does not tell a client the broker's release, so this reads the jar names
    under ``$STREAMLET_KAFKA_HOME/lib`` (default ``<repo>/.kafka/lib``); "unknown" otherwise.
    """
    home = Path(os.environ.get("STREAMLET_KAFKA_HOME", _REPO / ".kafka"))
    for jar in sorted((home / "lib").glob("kafka_2.13-*.jar")):
        match = re.fullmatch(r"kafka_2\.13-(\d+\.\d+\.\d+)\.jar", jar.name)
        if match:
            return match.group(1)
    return "unknown"
