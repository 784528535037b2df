"""Client configuration assembly. Raw librdkafka settings from the user pass through as-is,
except the few that the processing guarantee owns (those raise ConfigError if overridden)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from streamlet.config import AppConfig
from streamlet.errors import ConfigError

_OWNED_CONSUMER = ("group.id", "enable.auto.commit", "isolation.level", "enable.auto.offset.store")
_OWNED_PRODUCER = ("transactional.id", "enable.idempotence")
_CONSUMER_ONLY = (
    "fetch.",
    "max.poll.",
    "session.timeout.",
    "heartbeat.",
    "auto.offset.",
    "partition.assignment.",
    "group.",
    "queued.",
    "isolation.",
    "enable.auto.",
)
_PRODUCER_ONLY = (
    "linger.",
    "batch.",
    "acks",
    "compression.",
    "queue.buffering.",
    "transaction.",
    "delivery.",
    "message.timeout.",
    "retries",
    "partitioner",
    "enable.idempotence",
    "max.in.flight",
)


def _split(config: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith(drop)}


def consumer_config(cfg: AppConfig, instance_id: str | None = None) -> dict[str, Any]:
    """The worker's group consumer: read_committed under both guarantees, manual commits;
    ``instance_id`` makes it a static group member (``AppConfig.static_membership``)."""
    user = dict(cfg.client_config)
    for key in _OWNED_CONSUMER:
        if key in user:
            raise ConfigError(f"{key!r} is set by streamlet and cannot be overridden")
    strategy = str(user.get("partition.assignment.strategy", ""))
    if "cooperative" in strategy:
        # the runtime closes every task on any revocation (the eager protocol): under
        # incremental rebalancing the partitions a member keeps would find no task
        raise ConfigError(
            f"partition.assignment.strategy={strategy!r} is not supported: streamlet "
            "rebalances eagerly (every task closes on revocation), so the partitions an "
            "incremental rebalance lets a member keep would stall; use 'range' (the default)"
        )
    conf: dict[str, Any] = {
        "bootstrap.servers": cfg.bootstrap_servers,
        "auto.offset.reset": "earliest",
        # range keeps partition p of co-partitioned topics on the same member
        "partition.assignment.strategy": "range",
        "fetch.wait.max.ms": 50,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
    }
    conf.update(_split(user, _PRODUCER_ONLY))
    conf.update(
        {
            "group.id": cfg.application_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
        }
    )
    if instance_id is not None:
        conf["group.instance.id"] = instance_id
    return conf


def with_client_id(cfg: AppConfig, worker: int) -> AppConfig:
    """``cfg`` with ``client.id`` defaulted to ``<app>-<worker>``, so brokers and Kafka's own
    tools (consumer-groups, logs, quotas) say which worker a connection is; a client.id
    the user set is kept."""
    if "client.id" in cfg.client_config:
        return cfg
    client_id = f"{cfg.application_id}-{worker}"
    return dataclasses.replace(cfg, client_config={**cfg.client_config, "client.id": client_id})


def restore_consumer_config(cfg: AppConfig) -> dict[str, Any]:
    """An assign-only consumer for changelogs: never joins the group, never commits."""
    conf = {
        k: v
        for k, v in consumer_config(cfg).items()
        if not k.startswith(("group.", "partition.assignment."))
    }
    conf.update(
        {
            "group.id": f"{cfg.application_id}-restore",
            "fetch.wait.max.ms": 10,
            "enable.partition.eof": True,
        }
    )
    # librdkafka postpones a partition's next fetch by fetch.queue.backoff.ms (1 s) once its
    # local queue holds queued.min.messages: a replay drains that queue in well under a
    # second, so the default capped restoration at ~150k records/s; measured here, 10 ms
    # lets one consumer read ~1M records/s (the user's setting wins)
    if "fetch.queue.backoff.ms" not in cfg.client_config:
        conf["fetch.queue.backoff.ms"] = 10
    if "client.id" in conf:  # as Kafka Streams names its restore consumer after the worker
        conf["client.id"] = f"{conf['client.id']}-restore"
    return conf


def producer_config(
    cfg: AppConfig, transactional_id: str | None, on_error: Callable[[Any, Any], None]
) -> dict[str, Any]:
    """One producer per worker; transactional under exactly-once, idempotent always."""
    user = dict(cfg.client_config)
    for key in _OWNED_PRODUCER:
        if key in user:
            raise ConfigError(f"{key!r} is set by streamlet and cannot be overridden")
    conf: dict[str, Any] = {
        "bootstrap.servers": cfg.bootstrap_servers,
        "linger.ms": 5,
        # Java-compatible key hashing, so Kafka Streams apps and streamlet agree on partitions
        "partitioner": "murmur2_random",
        "transaction.timeout.ms": 10000,
        "delivery.report.only.error": True,
    }
    conf.update(_split(user, _CONSUMER_ONLY))
    conf.update({"enable.idempotence": True, "on_delivery": on_error})
    if transactional_id is not None:
        conf["transactional.id"] = transactional_id
    return conf
