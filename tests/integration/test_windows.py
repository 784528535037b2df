"""Each window kind end to end through a worker on the real broker: the outputs match the
TopologyTestDriver run on each input partition, closed windows come out exactly once, and
the windowed changelogs are ``compact,delete`` with retention plus a day."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin
from streamlet.testing import TopologyTestDriver

from support import produce, read_all

pytestmark = pytest.mark.integration

S, J, I64 = serde.String(), serde.Json(), serde.Int64()
PARTITIONS = 2
# name -> (windows, emit, key serde to read the output)
OUTPUTS: dict[str, tuple[Any, sl.Emit, serde.Serde[Any]]] = {
    "tumbling": (sl.TumblingWindows(10_000), sl.Emit.ON_WINDOW_CLOSE, serde.Windowed(S, 10_000)),
    "hopping": (
        sl.HoppingWindows(10_000, 5_000, grace_ms=2_000),
        sl.Emit.ON_WINDOW_UPDATE,
        serde.Windowed(S, 10_000),
    ),
    "session": (sl.SessionWindows(3_000), sl.Emit.ON_WINDOW_CLOSE, serde.SessionWindowed(S)),
    "sliding": (
        sl.SlidingWindows(2_000, grace_ms=1_000),
        sl.Emit.ON_WINDOW_UPDATE,
        serde.Windowed(S, 2_000),
    ),
}


def _app(app_id: str, src: str, out: dict[str, str], **kwargs: Any) -> sl.App:
    app = sl.App(app_id, **kwargs)
    grouped = app.stream(src, key_serde=S, value_serde=J).group_by_key()
    for name, (windows, emit, _) in OUTPUTS.items():
        table = grouped.windowed_by(windows, emit=emit).count(name)
        table.to_stream().to(out[name], value_serde=I64)
    return app


def _events(base: int) -> dict[int, list[tuple[str, int]]]:
    """Per partition, ``(key, timestamp)`` in time order; the last record of each partition
    moves its stream time far ahead so every window of the others closes."""
    out: dict[int, list[tuple[str, int]]] = {}
    for p in range(PARTITIONS):
        rows = [(f"k{p}{i % 3}", base + i * 700 + (1_500 if i % 7 == 0 else 0)) for i in range(60)]
        rows.sort(key=lambda r: r[1])
        out[p] = [*rows, (f"end{p}", base + 600_000)]
    return out


def _by_window(pairs: Iterator[tuple[Any, Any]] | list[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


@pytest.fixture(scope="module")
def run(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    admin = Admin(bootstrap)
    src = f"win-in-{tag}"
    admin.ensure_topic(src, PARTITIONS, {})
    out = {name: f"win-{name}-{tag}" for name in OUTPUTS}
    for topic in out.values():
        admin.ensure_topic(topic, PARTITIONS, {})
    # event times relative to now: the broker's retention would delete older ones
    base = (int(time.time() * 1000) - 30 * 60_000) // 10_000 * 10_000
    events = _events(base)
    for p, rows in events.items():
        produce(
            bootstrap,
            src,
            [(k.encode(), json.dumps({"n": 1}).encode()) for k, _ in rows],
            partition=p,
            timestamps=[ts for _, ts in rows],
        )
    expected: dict[str, dict[Any, list[Any]]] = {name: {} for name in OUTPUTS}
    for rows in events.values():  # the driver runs one partition, like one task
        with TopologyTestDriver(_app("win", src, out)) as driver:
            inp = driver.input_topic(src, S, J)
            for key, ts in rows:
                inp.pipe(key, {"n": 1}, ts)
            for name, (_, _, key_serde) in OUTPUTS.items():
                pairs = driver.output_topic(out[name], key_serde, I64).read_key_values()
                expected[name].update(_by_window(pairs))
    app_id = f"win-{tag}"
    state = Path(tmp_path_factory.mktemp("state"))
    app = _app(
        app_id, src, out, bootstrap_servers=bootstrap, commit_interval_ms=100, state_dir=state
    )
    app.start()
    try:
        assert app.wait_until_running(60)
        got: dict[str, dict[Any, list[Any]]] = {}
        for name, (_, _, key_serde) in OUTPUTS.items():
            want = sum(len(v) for v in expected[name].values())
            msgs = sorted(read_all(bootstrap, out[name], expect=want), key=lambda m: m.offset)
            got[name] = _by_window(
                (key_serde.deserialize(out[name], m.key), I64.deserialize(out[name], m.value))
                for m in msgs
            )
    finally:
        app.stop()
    configs = {name: admin.topic_config(f"{app_id}-{name}-changelog") for name in OUTPUTS}
    return {"got": got, "expected": expected, "configs": configs, "events": events, "base": base}


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_worker_output_matches_the_driver(run: dict[str, Any], name: str) -> None:
    assert run["expected"][name]  # the scenario produced windows at all
    assert run["got"][name] == run["expected"][name]


def test_tumbling_emits_each_closed_window_once_with_its_count(run: dict[str, Any]) -> None:
    want: dict[sl.Windowed, list[int]] = {}
    counts: dict[tuple[str, int], int] = {}
    for rows in run["events"].values():
        for key, ts in rows[:-1]:  # the closing record's own window stays open
            start = ts // 10_000 * 10_000
            counts[key, start] = counts.get((key, start), 0) + 1
    for (key, start), n in counts.items():
        want[sl.Windowed(key, start, start + 10_000)] = [n]
    assert run["got"]["tumbling"] == want


def test_windowed_changelogs_are_compacted_and_deleted_by_time(run: dict[str, Any]) -> None:
    day = 24 * 60 * 60 * 1000
    retentions = {"tumbling": 10_000, "hopping": 12_000, "session": 3_000, "sliding": 3_000}
    for name, retention in retentions.items():
        config = run["configs"][name]
        assert config["cleanup.policy"] == "compact,delete", name
        assert config["retention.ms"] == str(retention + day), name
