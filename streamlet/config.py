"""Frozen configuration values; each validates itself and raises ``ConfigError``."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from streamlet.errors import ConfigError

EXACTLY_ONCE_V2 = "exactly_once_v2"
AT_LEAST_ONCE = "at_least_once"
_GUARANTEES = (EXACTLY_ONCE_V2, AT_LEAST_ONCE)
# what may appear in a Kafka topic name: application ids and the names that derive topics
TOPIC_NAME_PART = re.compile(r"[A-Za-z0-9._-]+")
# Kafka Streams' defaults: 100 ms under exactly-once, 30 s under at-least-once.
_DEFAULT_COMMIT_MS = {EXACTLY_ONCE_V2: 100, AT_LEAST_ONCE: 30_000}


class ErrorPolicy(enum.Enum):
    """What to do with a record that cannot be deserialized, processed or produced."""

    FAIL = "fail"
    """Stop the worker; commit nothing past the record; exit non-zero naming it."""
    CONTINUE = "continue"
    """Log it, count it, skip it."""
    DEAD_LETTER = "dead_letter"
    """Produce its original bytes with error headers to the dead-letter topic, then go on."""


@dataclass(frozen=True)
class ErrorPolicies:
    deserialization: ErrorPolicy = ErrorPolicy.FAIL
    processing: ErrorPolicy = ErrorPolicy.FAIL
    production: ErrorPolicy = ErrorPolicy.FAIL
    dead_letter_topic: str | None = None  # default: <app>-dlq


@dataclass(frozen=True)
class AppConfig:
    """Everything a worker needs besides the topology."""

    application_id: str
    bootstrap_servers: str = "localhost:9092"
    processing_guarantee: str = EXACTLY_ONCE_V2
    commit_interval_ms: int | None = None
    state_dir: Path = Path(".streamlet")
    client_config: Mapping[str, Any] = field(default_factory=dict)
    errors: ErrorPolicies = ErrorPolicies()
    # group.instance.id = the worker's stable identity: a restarted worker takes its
    # partitions back at once instead of after the session timeout; the price is that a
    # graceful stop no longer hands them over before the session timeout either
    static_membership: bool = False
    # repartition topics keep records forever (retention.ms=-1, so old event times are never
    # expired unread); what every consumer committed is deleted at most this often
    repartition_purge_interval_ms: int = 30_000
    # serve Prometheus metrics and /health on this port (None: no endpoint)
    metrics_port: int | None = None
    # replicas of the internal topics (changelogs, repartition, dead-letter) streamlet creates;
    # -1 = the broker's default.replication.factor, as Kafka Streams' replication.factor
    replication_factor: int = -1
    # a task reading several input partitions processes the buffered record with the smallest
    # timestamp, and waits for an empty partition (Kafka Streams' max.task.idle.ms): -1 never
    # waits; 0 waits only while the partition has records on the broker not yet fetched; > 0
    # also waits up to that long for new records once it has caught up
    max_task_idle_ms: int = 0
    # the record cache of each worker, shared by its tasks' aggregations and tables: updates
    # coalesce per key and only the newest is forwarded, at commit or on eviction; 0 forwards
    # every update at once (see docs/record-cache.md for why that is the default)
    cache_max_bytes: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.application_id, str) or not TOPIC_NAME_PART.fullmatch(
            self.application_id
        ):
            raise ConfigError(
                f"application_id {self.application_id!r} must use only letters, digits, "
                "'.', '_' and '-': it prefixes topic names"
            )
        if self.processing_guarantee not in _GUARANTEES:
            raise ConfigError(
                f"processing_guarantee must be one of {_GUARANTEES}, "
                f"not {self.processing_guarantee!r}"
            )
        if self.commit_interval_ms is not None and (
            not isinstance(self.commit_interval_ms, int) or self.commit_interval_ms <= 0
        ):
            raise ConfigError(f"commit_interval_ms must be > 0, not {self.commit_interval_ms}")
        if (
            not isinstance(self.repartition_purge_interval_ms, int)
            or self.repartition_purge_interval_ms < 0
        ):
            raise ConfigError(
                "repartition_purge_interval_ms must be >= 0, "
                f"not {self.repartition_purge_interval_ms}"
            )
        if self.metrics_port is not None and (
            not isinstance(self.metrics_port, int) or not 0 < self.metrics_port < 65536
        ):
            raise ConfigError(f"metrics_port must be a port in 1..65535, not {self.metrics_port!r}")
        if (
            not isinstance(self.replication_factor, int)
            or isinstance(self.replication_factor, bool)
            or not (self.replication_factor == -1 or self.replication_factor >= 1)
        ):
            raise ConfigError(
                "replication_factor must be -1 (the broker's default.replication.factor) "
                f"or >= 1, not {self.replication_factor!r}"
            )
        if (
            not isinstance(self.max_task_idle_ms, int)
            or isinstance(self.max_task_idle_ms, bool)
            or self.max_task_idle_ms < -1
        ):
            raise ConfigError(
                "max_task_idle_ms must be -1 (never wait for an empty input partition), 0 "
                "(wait only for records already on the broker) or a wait in ms > 0, "
                f"not {self.max_task_idle_ms!r}"
            )
        if (
            not isinstance(self.cache_max_bytes, int)
            or isinstance(self.cache_max_bytes, bool)
            or self.cache_max_bytes < 0
        ):
            raise ConfigError(f"cache_max_bytes must be >= 0, not {self.cache_max_bytes!r}")
        if self.exactly_once:
            timeout = int(self.client_config.get("transaction.timeout.ms", 10_000))
            if self.commit_interval_s * 1000 >= timeout:
                raise ConfigError(
                    f"commit_interval_ms ({self.commit_interval_s * 1000:.0f}) must be shorter "
                    f"than transaction.timeout.ms ({timeout}) under exactly-once: the broker "
                    "would abort every transaction before it is committed"
                )
        object.__setattr__(self, "state_dir", Path(self.state_dir))
        object.__setattr__(self, "client_config", MappingProxyType(dict(self.client_config)))

    @property
    def exactly_once(self) -> bool:
        return self.processing_guarantee == EXACTLY_ONCE_V2

    @property
    def commit_interval_s(self) -> float:
        ms = self.commit_interval_ms or _DEFAULT_COMMIT_MS[self.processing_guarantee]
        return ms / 1000.0

    @property
    def dead_letter_topic(self) -> str:
        return self.errors.dead_letter_topic or f"{self.application_id}-dlq"
