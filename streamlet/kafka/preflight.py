"""Start-up checks that turn the two commonest mistakes into one line a user can act on:
a client setting librdkafka does not know, and bootstrap servers where no broker answers.

Without them the first is a ``KafkaException`` traceback from deep in the worker, and the
second is half a minute of librdkafka connection logs before an admin call times out.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from streamlet.config import AppConfig
from streamlet.errors import BrokerUnavailableError, ConfigError
from streamlet.kafka.admin import _admin_safe
from streamlet.kafka.clients import consumer_config, producer_config

PROBE_TIMEOUT_S = 5.0

_quiet = logging.getLogger("streamlet.kafka.preflight.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False  # the probe's own connection failures are reported as one line
_UNKNOWN = re.compile(r'No such configuration property: "([^"]+)"')


def _silent() -> dict[str, Any]:
    return {"logger": _quiet, "error_cb": lambda _err: None}


def check_client_config(cfg: AppConfig) -> None:
    """Build the worker's consumer and producer configuration once, so librdkafka judges
    every user setting now; an unknown or malformed one is a ConfigError naming it."""
    for kind, conf in (
        ("consumer", consumer_config(cfg)),
        ("producer", producer_config(cfg, None, lambda _e, _m: None)),
    ):
        try:
            client: Any = Consumer if kind == "consumer" else Producer
            made = client({**conf, **_silent()})
        except KafkaException as exc:
            text = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
            unknown = _UNKNOWN.search(text)
            if unknown:
                raise ConfigError(
                    f"unknown client setting {unknown.group(1)!r} (from -c / App(config=)): "
                    "not a librdkafka configuration property"
                ) from None
            raise ConfigError(f"invalid client setting for the {kind}: {text}") from None
        if kind == "consumer":
            made.close()


def check_reachable(
    bootstrap_servers: str, client_config: Any = None, timeout_s: float = PROBE_TIMEOUT_S
) -> None:
    """A metadata request with a short timeout; BrokerUnavailableError if none answers."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap_servers, **_admin_safe(client_config or {}), **_silent()}
    )
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        raise BrokerUnavailableError(
            f"no Kafka broker answered at {bootstrap_servers} within {timeout_s:.0f} s "
            f"({reason}); check --bootstrap-servers / App(bootstrap_servers=) and that the "
            "brokers are up"
        ) from None


def preflight(cfg: AppConfig) -> None:
    """Both checks, configuration first (it needs no network)."""
    check_client_config(cfg)
    check_reachable(cfg.bootstrap_servers, cfg.client_config)
