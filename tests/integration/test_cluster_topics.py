"""Internal topics on the 3-node cluster (RF 3, min.insync.replicas=2 by default): they
follow the cluster's replication, and a replication the cluster cannot write to is refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cluster import Cluster
from confluent_kafka.admin import AdminClient, NewTopic

import streamlet as sl
from streamlet import serde
from streamlet.errors import ConfigError, StreamletError
from streamlet.kafka.admin import Admin

# one xdist worker runs every test of the 3-node cluster (its fixture starts it once)
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("cluster")]


def _counting_app(cluster: Cluster, tag: str, state: Path, **kwargs: int) -> sl.App:
    """A count per key after a repartition: a changelog and a repartition topic."""
    admin = Admin(cluster.bootstrap)
    admin.ensure_topic(f"ct-in-{tag}", 2, {})
    admin.ensure_topic(f"ct-out-{tag}", 2, {})
    app = sl.App(f"ct-{tag}", bootstrap_servers=cluster.bootstrap, state_dir=state, **kwargs)
    (
        app.stream(f"ct-in-{tag}", key_serde=serde.String(), value_serde=serde.String())
        .group_by(lambda _k, v: v, name="by-value", key_serde=serde.String())
        .count(name="counts")
        .to_stream()
        .to(f"ct-out-{tag}", value_serde=serde.Int64())
    )
    return app


def test_internal_topics_follow_the_cluster_replication_factor(
    cluster: Cluster, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    app = _counting_app(cluster, tag, tmp_path)
    app.start()
    try:
        assert app.wait_until_running(120)
    finally:
        app.stop()
    internal = list(app.topology().internal_topics)
    assert len(internal) == 2, internal
    described = Admin(cluster.bootstrap).describe(internal)
    assert {t: info.replication_factor for t, info in described.items() if info} == {
        t: 3 for t in internal
    }


def test_existing_internal_topic_below_min_insync_replicas_is_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    app = _counting_app(cluster, tag, tmp_path)
    changelog = next(
        t for t, s in app.topology().internal_topics.items() if s.kind != "repartition"
    )
    # as the issue found them: one replica on a cluster whose min.insync.replicas is 2
    client = AdminClient({"bootstrap.servers": cluster.bootstrap})
    topic = NewTopic(changelog, 2, 1, config={"cleanup.policy": "compact"})
    client.create_topics([topic])[changelog].result(30)
    app.start()
    with pytest.raises(
        StreamletError, match=r"replication factor 1, below its min.insync.replicas=2"
    ):
        app.stop(120)


def test_existing_internal_topic_with_fewer_replicas_than_asked_is_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    app = _counting_app(cluster, tag, tmp_path, replication_factor=3)
    repartition = next(
        t for t, s in app.topology().internal_topics.items() if s.kind == "repartition"
    )
    client = AdminClient({"bootstrap.servers": cluster.bootstrap})
    client.create_topics([NewTopic(repartition, 2, 2)])[repartition].result(30)
    app.start()
    with pytest.raises(StreamletError, match=r"replication factor 2; this app asks for 3"):
        app.stop(120)


def test_replication_factor_zero_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="replication_factor must be -1"):
        sl.App("rf-zero", replication_factor=0)
