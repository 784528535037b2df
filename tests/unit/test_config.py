"""``AppConfig`` validation and defaults, and the client configs assembled from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import streamlet as sl
from streamlet.config import AppConfig
from streamlet.kafka.clients import consumer_config, producer_config, restore_consumer_config
from streamlet.runtime import commit


def _on_delivery(err: Any, msg: Any) -> None: ...


def _eos(**client: Any) -> AppConfig:
    return AppConfig("shop", client_config=client)


def _alos(**client: Any) -> AppConfig:
    return AppConfig("shop", processing_guarantee=sl.AT_LEAST_ONCE, client_config=client)


# -- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("guarantee", ["exactly_once", "exactly-once-v2", "EXACTLY_ONCE_V2", ""])
def test_app_config_raises_when_guarantee_unknown(guarantee: str) -> None:
    with pytest.raises(sl.ConfigError, match="processing_guarantee must be one of"):
        AppConfig("shop", processing_guarantee=guarantee)


@pytest.mark.parametrize("application_id", ["", "my app", "a/b", "a\\b", "shop:v2"])
def test_app_config_raises_when_application_id_not_plain(application_id: str) -> None:
    with pytest.raises(sl.ConfigError, match="must use only letters, digits"):
        AppConfig(application_id)


@pytest.mark.parametrize("application_id", ["shop*", "shop\n", "caf\u00e9", "a,b"])
def test_app_config_raises_when_application_id_not_topic_safe(application_id: str) -> None:
    with pytest.raises(sl.ConfigError):
        AppConfig(application_id)


@pytest.mark.parametrize("interval", [0, -1, -100])
def test_app_config_raises_when_commit_interval_not_positive(interval: int) -> None:
    with pytest.raises(sl.ConfigError, match=f"commit_interval_ms must be > 0, not {interval}"):
        AppConfig("shop", commit_interval_ms=interval)


def test_app_raises_config_error_when_settings_invalid() -> None:
    with pytest.raises(sl.ConfigError, match="processing_guarantee"):
        sl.App("shop", processing_guarantee="exactly_once")
    with pytest.raises(sl.ConfigError, match="application_id"):
        sl.App("my shop")
    with pytest.raises(sl.ConfigError, match="commit_interval_ms"):
        sl.App("shop", commit_interval_ms=0)


def test_config_error_is_streamlet_error() -> None:
    assert issubclass(sl.ConfigError, sl.StreamletError)


# -- defaults ------------------------------------------------------------------------------
def test_commit_interval_defaults_to_100_ms_under_exactly_once() -> None:
    cfg = AppConfig("shop")

    assert cfg.processing_guarantee == sl.EXACTLY_ONCE_V2
    assert cfg.exactly_once
    assert cfg.commit_interval_s == 0.1


def test_commit_interval_defaults_to_30_s_under_at_least_once() -> None:
    cfg = AppConfig("shop", processing_guarantee=sl.AT_LEAST_ONCE)

    assert not cfg.exactly_once
    assert cfg.commit_interval_s == 30.0


@pytest.mark.parametrize("guarantee", [sl.EXACTLY_ONCE_V2, sl.AT_LEAST_ONCE])
def test_commit_interval_uses_explicit_value(guarantee: str) -> None:
    assert (
        AppConfig("shop", processing_guarantee=guarantee, commit_interval_ms=250).commit_interval_s
        == 0.25
    )


def test_app_passes_settings_to_config() -> None:
    app = sl.App(
        "shop",
        bootstrap_servers="broker:9092",
        processing_guarantee=sl.AT_LEAST_ONCE,
        commit_interval_ms=500,
        state_dir="/var/lib/shop",
        config={"linger.ms": 5},
    )

    assert app.application_id == "shop"
    assert app.config.bootstrap_servers == "broker:9092"
    assert app.config.commit_interval_s == 0.5
    assert app.config.state_dir == Path("/var/lib/shop")
    assert dict(app.config.client_config) == {"linger.ms": 5}


def test_error_policies_default_to_fail() -> None:
    policies = AppConfig("shop").errors

    assert policies.deserialization is sl.ErrorPolicy.FAIL
    assert policies.processing is sl.ErrorPolicy.FAIL
    assert policies.production is sl.ErrorPolicy.FAIL


def test_dead_letter_topic_defaults_to_app_dlq() -> None:
    assert AppConfig("shop").dead_letter_topic == "shop-dlq"
    custom = AppConfig("shop", errors=sl.ErrorPolicies(dead_letter_topic="rejects"))
    assert custom.dead_letter_topic == "rejects"


def test_app_config_copies_client_config() -> None:
    raw = {"linger.ms": 5}
    cfg = AppConfig("shop", client_config=raw)
    raw["linger.ms"] = 50

    assert cfg.client_config["linger.ms"] == 5
    with pytest.raises(TypeError):
        cfg.client_config["linger.ms"] = 7  # type: ignore[index]


def test_app_config_converts_state_dir_to_path() -> None:
    cfg = AppConfig("shop", state_dir="state")  # type: ignore[arg-type]

    assert cfg.state_dir == Path("state")


# -- consumer ------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [_eos(), _alos()], ids=["eos", "alos"])
def test_consumer_config_reads_committed_and_commits_manually(cfg: AppConfig) -> None:
    conf = consumer_config(cfg)

    assert conf["isolation.level"] == "read_committed"
    assert conf["enable.auto.commit"] is False
    assert conf["enable.auto.offset.store"] is False
    assert conf["group.id"] == "shop"
    assert conf["bootstrap.servers"] == "localhost:9092"


@pytest.mark.parametrize(
    "key", ["group.id", "enable.auto.commit", "isolation.level", "enable.auto.offset.store"]
)
def test_consumer_config_raises_when_owned_key_overridden(key: str) -> None:
    with pytest.raises(sl.ConfigError, match=f"'{key}' is set by streamlet"):
        consumer_config(_eos(**{key: "anything"}))


def test_consumer_config_passes_unknown_keys_through() -> None:
    conf = consumer_config(_eos(**{"client.id": "shop-1", "x.custom.setting": 7}))

    assert conf["client.id"] == "shop-1"
    assert conf["x.custom.setting"] == 7


def test_consumer_config_lets_user_override_defaults() -> None:
    conf = consumer_config(_eos(**{"fetch.wait.max.ms": 500, "auto.offset.reset": "latest"}))

    assert conf["fetch.wait.max.ms"] == 500
    assert conf["auto.offset.reset"] == "latest"


def test_consumer_config_drops_producer_settings() -> None:
    conf = consumer_config(_eos(**{"linger.ms": 20, "acks": "all", "compression.type": "lz4"}))

    assert not {"linger.ms", "acks", "compression.type"} & set(conf)


def test_restore_consumer_config_uses_own_group_and_reads_committed() -> None:
    conf = restore_consumer_config(_eos())

    assert conf["group.id"] == "shop-restore"
    assert conf["isolation.level"] == "read_committed"
    assert conf["enable.auto.commit"] is False
    assert "partition.assignment.strategy" not in conf


# -- producer ------------------------------------------------------------------------------
def test_producer_config_sets_transactional_id_when_given() -> None:
    conf = producer_config(_eos(), "shop-uuid-0", _on_delivery)

    assert conf["transactional.id"] == "shop-uuid-0"
    assert conf["enable.idempotence"] is True
    assert conf["on_delivery"] is _on_delivery


def test_producer_config_has_no_transactional_id_when_none() -> None:
    conf = producer_config(_alos(), None, _on_delivery)

    assert "transactional.id" not in conf
    assert conf["enable.idempotence"] is True


@pytest.mark.parametrize("key", ["transactional.id", "enable.idempotence"])
def test_producer_config_raises_when_owned_key_overridden(key: str) -> None:
    with pytest.raises(sl.ConfigError, match=f"'{key}' is set by streamlet"):
        producer_config(_eos(**{key: "anything"}), None, _on_delivery)


def test_producer_config_passes_unknown_keys_through() -> None:
    conf = producer_config(
        _eos(**{"client.id": "shop-1", "x.custom.setting": 7, "linger.ms": 20}),
        None,
        _on_delivery,
    )

    assert conf["client.id"] == "shop-1"
    assert conf["x.custom.setting"] == 7
    assert conf["linger.ms"] == 20


def test_producer_config_drops_consumer_settings() -> None:
    conf = producer_config(
        _eos(**{"fetch.wait.max.ms": 500, "session.timeout.ms": 6000}), None, _on_delivery
    )

    assert not {"fetch.wait.max.ms", "session.timeout.ms"} & set(conf)


class _FakeProducer:
    """Records the config the committer builds its producer from; talks to no broker."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.initialized = False

    def init_transactions(self, timeout: float) -> None:
        self.initialized = True


@pytest.fixture
def fake_producer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(commit, "Producer", _FakeProducer)
    yield


@pytest.mark.usefixtures("fake_producer")
def test_committer_uses_transactional_producer_under_exactly_once() -> None:
    committer = commit.Committer(_eos(), "shop-uuid-0", admin=None)  # type: ignore[arg-type]

    producer = committer._producer
    assert isinstance(producer, _FakeProducer)
    assert producer.conf["transactional.id"] == "shop-uuid-0"
    assert producer.initialized


@pytest.mark.usefixtures("fake_producer")
def test_committer_drops_transactional_id_under_at_least_once() -> None:
    committer = commit.Committer(_alos(), "shop-uuid-0", admin=None)  # type: ignore[arg-type]

    producer = committer._producer
    assert isinstance(producer, _FakeProducer)
    assert "transactional.id" not in producer.conf
    assert not producer.initialized


def test_consumer_config_sets_group_instance_id_when_static() -> None:
    from streamlet.kafka.clients import consumer_config, restore_consumer_config

    cfg = AppConfig("shop", static_membership=True)
    assert consumer_config(cfg, "shop-uuid-0")["group.instance.id"] == "shop-uuid-0"
    assert "group.instance.id" not in consumer_config(AppConfig("shop"))
    assert "group.instance.id" not in restore_consumer_config(cfg)


def test_consumer_config_refuses_cooperative_sticky_assignment() -> None:
    from streamlet.errors import ConfigError

    cfg = AppConfig("coop", client_config={"partition.assignment.strategy": "cooperative-sticky"})
    with pytest.raises(ConfigError, match="rebalances eagerly"):
        consumer_config(cfg)


def test_cache_max_bytes_rejects_negative_and_non_int() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(sl.ConfigError, match="cache_max_bytes"):
            AppConfig("app", cache_max_bytes=bad)  # type: ignore[arg-type]
    assert AppConfig("app").cache_max_bytes == 0
