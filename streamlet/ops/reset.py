"""The application reset tool: rewind the group's input offsets, delete the app's internal
topics and its local state, so the next run reprocesses the input from a chosen point.

``plan_reset`` only reads (a dry run prints the plan); ``execute`` applies a plan.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from streamlet.config import AppConfig
from streamlet.errors import StreamletError, TopicError
from streamlet.kafka.admin import Admin
from streamlet.ops.lag import committed, list_offsets
from streamlet.topology.topology import Topology

_TIMEOUT_S = 30.0


class ResetRefusedError(StreamletError):
    """The group has live members: resetting under them would be undone by their commits."""


@dataclass(frozen=True)
class OffsetReset:
    topic: str
    partition: int
    current: int | None
    target: int


@dataclass(frozen=True)
class ResetPlan:
    group: str
    offsets: tuple[OffsetReset, ...]
    delete_topics: tuple[str, ...]  # the internal topics that exist now
    state_dir: Path | None  # None: nothing local to delete

    def describe(self, *, executed: bool) -> str:
        verb = "" if executed else "would "
        lines = [f"{'reset' if executed else 'dry run: reset'} of application {self.group}"]
        for o in self.offsets:
            now = "none" if o.current is None else str(o.current)
            lines.append(f"  {verb}set {o.topic}[{o.partition}] offset {now} -> {o.target}")
        for topic in self.delete_topics:
            lines.append(f"  {verb}delete internal topic {topic}")
        if self.state_dir is not None:
            lines.append(f"  {verb}delete local state {self.state_dir}")
        if not executed:
            lines.append("nothing was changed; add --execute to apply")
        return "\n".join(lines)


def parse_datetime(text: str) -> int:
    """An ISO-8601 instant as epoch milliseconds; a naive one is read as UTC."""
    from datetime import UTC

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise StreamletError(
            f"--to-datetime {text!r} is not an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def live_members(admin: Admin, group: str) -> list[str]:
    """Members of ``group`` as the coordinator sees them (client.id@host)."""
    futures = admin.client.describe_consumer_groups([group], request_timeout=_TIMEOUT_S)
    try:
        description = futures[group].result()
    except KafkaException as exc:
        raise TopicError(f"could not describe group {group!r}: {exc.args[0].str()}") from exc
    return [f"{m.client_id}@{m.host}" for m in description.members]


def plan_reset(
    admin: Admin,
    topology: Topology,
    cfg: AppConfig,
    *,
    to: str,
    timestamp_ms: int | None = None,
) -> ResetPlan:
    """What a reset ``to`` "earliest", "latest" or "datetime" (``timestamp_ms``) would do;
    raises ResetRefusedError while the group has live members."""
    group = cfg.application_id
    members = live_members(admin, group)
    if members:
        raise ResetRefusedError(
            f"group {group!r} has {len(members)} live member(s) ({', '.join(members)}); "
            "stop every worker of the app before resetting it"
        )
    sources = topology.user_source_topics()
    described = admin.describe(sources)
    missing = [t for t in sources if described[t] is None]
    if missing:
        raise TopicError(f"source topics {missing} do not exist", topic=missing[0])
    tps = [
        TopicPartition(t, p)
        for t in sources
        for p in range(described[t].partitions)  # type: ignore[union-attr]
    ]
    ends = list_offsets(admin, tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
    if to == "earliest":
        targets = list_offsets(admin, tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
    elif to == "latest":
        targets = ends
    elif to == "datetime" and timestamp_ms is not None:
        found = list_offsets(admin, tps, OffsetSpec.for_timestamp(timestamp_ms))
        # -1: no record at or after the instant, so nothing is left to read
        targets = {k: ends[k] if v < 0 else v for k, v in found.items()}
    else:
        raise StreamletError(f"unknown reset target {to!r}")
    current = committed(admin, group, tps)
    offsets = tuple(
        OffsetReset(
            tp.topic,
            tp.partition,
            current.get((tp.topic, tp.partition)),
            targets[(tp.topic, tp.partition)],
        )
        for tp in tps
    )
    internal = sorted(topology.internal_topics)
    existing = admin.describe(internal)
    local = cfg.state_dir / group
    return ResetPlan(
        group,
        offsets,
        tuple(t for t in internal if existing[t] is not None),
        local if local.exists() else None,
    )


def execute(admin: Admin, plan: ResetPlan) -> None:
    """Apply ``plan``: offsets first (refused by the broker if a member joined meanwhile),
    then the internal topics, then the local state."""
    if plan.offsets:
        request = ConsumerGroupTopicPartitions(
            plan.group, [TopicPartition(o.topic, o.partition, o.target) for o in plan.offsets]
        )
        futures = admin.client.alter_consumer_group_offsets([request], request_timeout=_TIMEOUT_S)
        try:
            futures[plan.group].result()
        except KafkaException as exc:
            raise ResetRefusedError(
                f"could not reset the offsets of group {plan.group!r}: {exc.args[0].str()}"
            ) from exc
    admin.delete_topics(list(plan.delete_topics))
    _await_deleted(admin, list(plan.delete_topics))
    if plan.state_dir is not None:
        shutil.rmtree(plan.state_dir)


def _await_deleted(admin: Admin, topics: list[str]) -> None:
    """Deletion is acknowledged before the metadata forgets the topics; a run started at
    once would find them half-deleted, so wait until they are gone."""
    deadline = time.monotonic() + _TIMEOUT_S
    while topics and any(info is not None for info in admin.describe(topics).values()):
        if time.monotonic() > deadline:
            raise TopicError(f"internal topics {topics} were deleted but are still listed")
        time.sleep(0.1)
