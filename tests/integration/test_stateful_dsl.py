"""Stateful DSL operations end to end through the broker: aggregations, tables, table
regrouping with adder/subtractor, and their changelogs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from support import Msg, produce, read_all

pytestmark = pytest.mark.integration

S, J, I64 = serde.String(), serde.Json(), serde.Int64()
OUTPUTS = ["count", "reduce", "aggregate", "to_table", "table_filter", "table_map", "regrouped"]


def _i64(b: bytes | None) -> int | None:
    return None if b is None else int.from_bytes(b, "big", signed=True)


@pytest.fixture(scope="module")
def run(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    admin = Admin(bootstrap)
    events, users = f"sdsl-events-{tag}", f"sdsl-users-{tag}"
    admin.ensure_topic(events, 2, {})
    admin.ensure_topic(users, 2, {})
    out = {name: f"sdsl-{name}-{tag}" for name in OUTPUTS}
    for topic in out.values():
        admin.ensure_topic(topic, 2, {})
    app_id = f"sdsl-{tag}"
    app = sl.App(
        app_id,
        bootstrap_servers=bootstrap,
        commit_interval_ms=100,
        state_dir=tmp_path_factory.mktemp("state"),
    )
    ev = app.stream(events, key_serde=S, value_serde=J)
    grouped = ev.map_values(lambda v: v["n"]).group_by_key(value_serde=I64)
    grouped.count(name="counts").to_stream().to(out["count"], value_serde=I64)
    grouped.reduce(max, name="maxima").to_stream().to(out["reduce"], value_serde=I64)
    (
        ev.group_by_key()
        .aggregate(list, lambda _k, v, agg: [*agg, v["n"]], name="histories")
        .to_stream()
        .to(out["aggregate"])
    )
    ev.to_table("latest", value_serde=J).to_stream().to(out["to_table"])
    table = app.table(users, name="users", key_serde=S, value_serde=J)
    table.filter(lambda _k, row: row["age"] >= 18).to_stream().to(out["table_filter"])
    table.map_values(lambda row: row["name"].upper(), value_serde=S).to_stream().to(
        out["table_map"], value_serde=S
    )
    (
        table.group_by(lambda _k, row: row["city"], name="by-city", key_serde=S)
        .count(name="per-city")
        .to_stream()
        .to(out["regrouped"], value_serde=I64)
    )

    produce(
        bootstrap,
        events,
        [(f"k{i % 4}".encode(), json.dumps({"n": i}).encode()) for i in range(40)],
    )
    rows = [
        ("u1", {"name": "ann", "age": 30, "city": "oslo"}),
        ("u2", {"name": "bo", "age": 12, "city": "oslo"}),
        ("u3", {"name": "cy", "age": 40, "city": "rome"}),
        ("u1", {"name": "ann", "age": 31, "city": "rome"}),  # moves oslo -> rome
        ("u3", None),
    ]  # deleted: rome -1
    for key, value in rows:  # one at a time so the per-key order is the test's order
        produce(
            bootstrap,
            users,
            [(key.encode(), None if value is None else json.dumps(value).encode())],
        )
    expect = {
        "count": 40,
        "reduce": 40,
        "aggregate": 40,
        "to_table": 40,
        "table_filter": 4,
        "table_map": 5,
        "regrouped": 6,
    }
    app.start()
    try:
        assert app.wait_until_running(60)
        results = {n: read_all(bootstrap, t, expect=expect[n], timeout=60) for n, t in out.items()}
        changelogs = {
            s: read_all(bootstrap, f"{app_id}-{s}-changelog", idle=1.0)
            for s in ("counts", "per-city")
        }
    finally:
        app.stop()
    yield {"results": results, "changelogs": changelogs}


def _per_key(msgs: list[Msg], decode: Any = _i64) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        out.setdefault((m.key or b"").decode(), []).append(decode(m.value))
    return out


def test_count_forwards_every_update(run: dict[str, Any]) -> None:
    assert _per_key(run["results"]["count"]) == {f"k{i}": list(range(1, 11)) for i in range(4)}


def test_reduce_keeps_running_max(run: dict[str, Any]) -> None:
    assert _per_key(run["results"]["reduce"]) == {
        f"k{i}": [i + 4 * j for j in range(10)] for i in range(4)
    }


def test_aggregate_calls_initializer_then_aggregator(run: dict[str, Any]) -> None:
    got = _per_key(run["results"]["aggregate"], lambda b: json.loads(b))
    assert got["k1"][-1] == [1 + 4 * j for j in range(10)]
    assert [len(h) for h in got["k1"]] == list(range(1, 11))


def test_to_table_emits_latest_values(run: dict[str, Any]) -> None:
    got = _per_key(run["results"]["to_table"], lambda b: json.loads(b)["n"])
    assert got["k2"] == [2 + 4 * j for j in range(10)]


def test_table_filter_and_map_values(run: dict[str, Any]) -> None:
    filtered = _per_key(run["results"]["table_filter"], lambda b: b and json.loads(b)["age"])
    assert filtered == {"u1": [30, 31], "u3": [40, None]}
    assert _per_key(run["results"]["table_map"], lambda b: b and b.decode()) == {
        "u1": ["ANN", "ANN"],
        "u2": ["BO"],
        "u3": ["CY", None],
    }


def test_table_group_by_subtracts_rows_that_move(run: dict[str, Any]) -> None:
    got = _per_key(run["results"]["regrouped"])
    assert got["oslo"][-1] == 1 and got["rome"][-1] == 1
    # the interleaving of rows from different input partitions is not fixed; the result is
    assert len(got["oslo"]) == 3 and len(got["rome"]) == 3


def test_changelogs_hold_the_latest_state(run: dict[str, Any]) -> None:
    counts: dict[str, int | None] = {}
    for m in run["changelogs"]["counts"]:
        counts[(m.key or b"").decode()] = _i64(m.value)
    # store keys are JSON-encoded by the grouped key serde: the group key is the String key
    assert sorted(counts.values()) == [10, 10, 10, 10]
