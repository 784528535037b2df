from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Message, TopicPartition
from prometheus_client import REGISTRY
from prometheus_client.multiprocess import mark_process_dead

import streamlet as sl
from streamlet import serde
from streamlet.config import AppConfig, ErrorPolicies, ErrorPolicy
from streamlet.errors import ConfigError, ProcessingError, ProductionError, SerializationError
from streamlet.runtime.metrics import LAG_INTERVAL_S, WorkerMetrics, error_reason
from streamlet.runtime.metrics_http import MULTIPROC_ENV, MetricsServer, multiprocess_registry
from streamlet.runtime.task import Task
from streamlet.testing import TopologyTestDriver


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class CountingTask:
    task_id: str
    consumed: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


class WatermarkConsumer:
    """A consumer's assignment, positions and cached watermarks, set by the test."""

    def __init__(self) -> None:
        self.positions: dict[tuple[str, int], int] = {}
        self.watermarks: dict[tuple[str, int], tuple[int, int]] = {}

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self.positions]

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.positions[(tp.topic, tp.partition)])
            for tp in tps
        ]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        assert cached, "lag must come from the consumer's cache, not a broker round trip"
        return self.watermarks[(tp.topic, tp.partition)]


def test_take_consumed_adds_task_counts_and_resets_them() -> None:
    task = CountingTask("0_1", {"m-in": 3, "m-other": 0})
    before = value("streamlet_records_consumed_total", task="0_1", topic="m-in")
    WorkerMetrics().take_consumed([task])
    WorkerMetrics().take_consumed([task])
    assert value("streamlet_records_consumed_total", task="0_1", topic="m-in") == before + 3
    assert task.consumed == {"m-in": 0, "m-other": 0}


def test_take_consumed_adds_dropped_records_by_reason_and_resets_them() -> None:
    task = CountingTask("0_3", dropped={"join_null_key": 2})
    before = value("streamlet_dropped_records_total", reason="join_null_key")
    WorkerMetrics().take_consumed([task])
    WorkerMetrics().take_consumed([task])
    assert value("streamlet_dropped_records_total", reason="join_null_key") == before + 2
    assert task.dropped == {"join_null_key": 0}


def test_tick_works_at_most_once_per_interval() -> None:
    now = [100.0]
    metrics = WorkerMetrics(clock=lambda: now[0])
    consumer = WatermarkConsumer()
    task = CountingTask("0_2", {"m-tick": 1})
    before = value("streamlet_records_consumed_total", task="0_2", topic="m-tick")
    metrics.tick(consumer, [task])
    task.consumed["m-tick"] = 5
    now[0] += LAG_INTERVAL_S / 2
    metrics.tick(consumer, [task])
    assert value("streamlet_records_consumed_total", task="0_2", topic="m-tick") == before + 1
    now[0] += LAG_INTERVAL_S
    metrics.tick(consumer, [task])
    assert value("streamlet_records_consumed_total", task="0_2", topic="m-tick") == before + 6


def test_refresh_lag_sets_owned_partitions_and_zeroes_revoked_ones() -> None:
    consumer = WatermarkConsumer()
    consumer.positions = {("m-lag", 0): 10, ("m-lag", 1): 7}
    consumer.watermarks = {("m-lag", 0): (0, 25), ("m-lag", 1): (0, 7)}
    metrics = WorkerMetrics()
    metrics.refresh_lag(consumer)
    assert value("streamlet_consumer_lag_records", topic="m-lag", partition="0") == 15
    assert value("streamlet_consumer_lag_records", topic="m-lag", partition="1") == 0
    del consumer.positions[("m-lag", 0)]  # revoked: the new owner reports it
    metrics.refresh_lag(consumer)
    assert value("streamlet_consumer_lag_records", topic="m-lag", partition="0") == 0


def test_refresh_lag_skips_partitions_not_fetched_yet() -> None:
    consumer = WatermarkConsumer()
    consumer.positions = {("m-unknown", 0): -1001, ("m-unknown", 1): -1001}
    consumer.watermarks = {("m-unknown", 0): (-1001, -1001), ("m-unknown", 1): (0, 9)}
    WorkerMetrics().refresh_lag(consumer)
    name = "streamlet_consumer_lag_records"
    assert REGISTRY.get_sample_value(name, {"topic": "m-unknown", "partition": "0"}) is None
    assert REGISTRY.get_sample_value(name, {"topic": "m-unknown", "partition": "1"}) is None


def test_committed_counts_commit_duration_and_produced_topics() -> None:
    commits = value("streamlet_commits_total")
    observed = value("streamlet_commit_duration_seconds_count")
    produced = value("streamlet_records_produced_total", topic="m-out")
    WorkerMetrics().committed(0.02, {"m-out": 4})
    assert value("streamlet_commits_total") == commits + 1
    assert value("streamlet_commit_duration_seconds_count") == observed + 1
    assert value("streamlet_records_produced_total", topic="m-out") == produced + 4


def test_policy_applied_counts_dead_letters_and_drops_by_reason() -> None:
    dead = value("streamlet_dead_letters_total")
    dropped = value("streamlet_dropped_records_total", reason="deserialization_error")
    metrics = WorkerMetrics()
    metrics.policy_applied(SerializationError("bad"), ErrorPolicy.DEAD_LETTER)
    metrics.policy_applied(SerializationError("bad"), ErrorPolicy.CONTINUE)
    assert value("streamlet_dead_letters_total") == dead + 1
    assert value("streamlet_dropped_records_total", reason="deserialization_error") == dropped + 1


def test_take_consumed_counts_a_windowed_operators_late_records_as_dropped_late() -> None:
    app = sl.App("late-metric")
    views = app.stream("views", key_serde=serde.String(), value_serde=serde.Int64())
    per_10ms = views.group_by_key().windowed_by(sl.TumblingWindows(10, grace_ms=5)).count("n")
    per_10ms.to_stream().to("counts", key_serde=serde.Windowed(serde.String()))
    before = value("streamlet_dropped_records_total", reason="late")
    with TopologyTestDriver(app) as driver:
        views_in = driver.input_topic("views", serde.String(), serde.Int64())
        for ts in (0, 15, 9, 5):  # at stream time 15, [0, 10) is closed: 9 and 5 are late
            views_in.pipe("a", 1, timestamp=ts)
        WorkerMetrics().take_consumed(driver._tasks)
        WorkerMetrics().take_consumed(driver._tasks)
        assert driver._tasks[0].late_dropped == 2  # the task's own running total stays
    assert value("streamlet_dropped_records_total", reason="late") == before + 2


def test_error_reason_names_the_failing_stage() -> None:
    assert error_reason(SerializationError("x")) == "deserialization_error"
    assert error_reason(ProductionError("x")) == "production_error"
    assert error_reason(ProcessingError("x")) == "processing_error"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_server_serves_metrics_and_health_from_the_callback() -> None:
    healthy = [True]
    server = MetricsServer(0, lambda: healthy[0], host="127.0.0.1")
    try:
        WorkerMetrics().rebalanced()
        base = f"http://127.0.0.1:{server.port}"
        status, body = _get(base + "/metrics")
        assert status == 200
        assert "streamlet_rebalances_total" in body
        assert _get(base + "/health")[0] == 200
        healthy[0] = False
        assert _get(base + "/health")[0] == 503
        assert _get(base + "/nothing")[0] == 404
    finally:
        server.close()


def test_server_on_a_taken_port_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on port {port}"):
            MetricsServer(port, lambda: True, host="127.0.0.1")


@pytest.mark.parametrize("port", [0, 70000, "9100"])
def test_config_rejects_bad_metrics_port(port: Any) -> None:
    with pytest.raises(ConfigError, match="metrics_port"):
        AppConfig(application_id="app", metrics_port=port)


_CHILD = """
from streamlet.runtime.metrics import WorkerMetrics, LAG
m = WorkerMetrics()
m.committed(0.01, {"m-mp": 2})
LAG.labels("m-mp", "0").set(5)
import os
print(os.getpid(), flush=True)
"""


def test_multiprocess_registry_sums_workers_and_forgets_dead_gauges(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    pids = []
    for _ in range(2):
        child = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=60
        )
        assert child.returncode == 0, child.stderr
        pids.append(int(child.stdout))
    registry = multiprocess_registry(str(tmp_path))
    assert registry.get_sample_value("streamlet_records_produced_total", {"topic": "m-mp"}) == 4
    assert registry.get_sample_value("streamlet_commits_total") == 2
    for pid in pids:
        mark_process_dead(pid, str(tmp_path))  # type: ignore[no-untyped-call]
    registry = multiprocess_registry(str(tmp_path))
    lag = registry.get_sample_value(
        "streamlet_consumer_lag_records", {"topic": "m-mp", "partition": "0"}
    )
    assert lag is None  # dead workers' lag is gone; their counters stay
    assert registry.get_sample_value("streamlet_commits_total") == 2


def _task(errors: ErrorPolicies) -> Task:
    app = sl.App("metrics-task")
    app.stream("m-src", key_serde=serde.String(), value_serde=serde.Json()).to("m-sink")
    (sub,) = app.topology().subtopology_of_topic().values()
    return Task(sub, 0, {}, lambda *_: None, lambda _t: 1, errors, "dlq", lambda: None)


def test_task_counts_consumed_records_per_topic_and_reports_policy_skips() -> None:
    task = _task(ErrorPolicies(deserialization=ErrorPolicy.CONTINUE))
    heard: list[tuple[str, ErrorPolicy]] = []
    task.on_policy = lambda exc, policy: heard.append((error_reason(exc), policy))
    task.process(Message(topic="m-src", partition=0, offset=0, key=b"k", value=b"{}"))
    task.process(Message(topic="m-src", partition=0, offset=1, key=b"k", value=b"not json"))
    assert task.consumed == {"m-src": 2}
    assert heard == [("deserialization_error", ErrorPolicy.CONTINUE)]
