"""Every stateless DSL operation, and the Processor API, end to end through the broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from support import Msg, produce, read_all

pytestmark = pytest.mark.integration

N = 100
# Timestamps near now: records stamped in 1970 are past the broker's 7-day retention, and its
# periodic retention check (every 5 min) deleted the output mid-test.
BASE_TS = int(time.time() * 1000) // 1000 * 1000
OUTPUTS = [
    "map",
    "map_values",
    "flat_map",
    "flat_map_values",
    "filter",
    "filter_not",
    "select_key",
    "peek",
    "small",
    "big",
    "rest",
    "merge",
    "repartition",
    "process",
    "ticks",
    "partitioned",
    "inventory",
    "audit",
]


class Ticker:
    """A Processor object: stream-time and wall-clock punctuation, forward to named children."""

    def init(self, ctx: sl.ProcessorContext) -> None:
        self.ctx = ctx
        self.fired: dict[str, int] = {"stream_time": 0, "wall_clock": 0}
        ctx.schedule(10_000, "stream_time", lambda ts: self._tick("stream_time", ts))
        ctx.schedule(200, "wall_clock", lambda ts: self._tick("wall_clock", ts))

    def _tick(self, kind: str, ts: int) -> None:
        if self.fired[kind] < 3:
            self.fired[kind] += 1
            self.ctx.forward(sl.Record(key=kind, value=ts, timestamp=ts), to="ticks")

    def process(self, record: sl.Record) -> None:
        self.ctx.forward(record.with_value(record.value["n"]), to="passthrough")

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def run(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import uuid

    tag = uuid.uuid4().hex[:8]
    admin = Admin(bootstrap)
    src, orders = f"dsl-in-{tag}", f"dsl-orders-{tag}"
    admin.ensure_topic(src, 2, {})
    admin.ensure_topic(orders, 2, {})
    out = {name: f"dsl-{name}-{tag}" for name in OUTPUTS}
    for topic in out.values():
        admin.ensure_topic(topic, 2, {})

    app = sl.App(
        f"dsl-{tag}",
        bootstrap_servers=bootstrap,
        commit_interval_ms=100,
        state_dir=tmp_path_factory.mktemp("state"),
    )
    peeked: list[tuple[str, int]] = []
    s = app.stream(src, key_serde=serde.String(), value_serde=serde.Json())
    i64 = serde.Int64()
    s.map(lambda k, v: (k.upper(), v["n"])).to(out["map"], value_serde=i64)
    s.map_values(lambda v: v["n"] * 10).to(out["map_values"], value_serde=i64)
    s.flat_map(lambda k, v: [(k, v["n"]), (k + "x", v["n"])]).to(
        out["flat_map"], key_serde=serde.String(), value_serde=i64
    )
    s.flat_map_values(lambda v: [v["n"], v["n"] + 1000]).to(out["flat_map_values"], value_serde=i64)
    even = s.filter(lambda k, v: v["n"] % 2 == 0)
    odd = s.filter_not(lambda k, v: v["n"] % 2 == 0)
    even.to(out["filter"])
    odd.to(out["filter_not"])
    even.merge(odd).to(out["merge"])
    s.select_key(lambda k, v: str(v["n"] % 3)).to(out["select_key"], key_serde=serde.String())
    s.peek(lambda k, v: peeked.append((k, v["n"]))).to(out["peek"])
    branches = (
        s.split(name="sizes")
        .branch(lambda k, v: v["n"] < 10, name="small")
        .branch(lambda k, v: v["n"] >= 90, name="big")
        .default_branch(name="rest")
    )
    for name in ("small", "big", "rest"):
        branches[name].to(out[name])
    (
        s.select_key(lambda k, v: f"r{v['n'] % 7}")
        .repartition("rekey", key_serde=serde.String())
        .map_values(lambda v: v["n"])
        .to(out["repartition"], value_serde=i64)
    )
    ticked = s.process(Ticker, name="ticker")
    ticked.process(lambda r, ctx: ctx.forward(r), name="passthrough").to(
        out["process"], key_serde=serde.String(), value_serde=i64
    )
    app._builder.add_sink("ticker", out["ticks"], serde.String(), i64, name="ticks")
    s.to(out["partitioned"], partitioner=lambda k, v, n: n - 1)

    @app.processor(source=orders, sinks=(out["inventory"], out["audit"]), stores=("seen-orders",))
    def route_order(record: sl.Record, ctx: sl.ProcessorContext) -> None:
        seen = ctx.store("seen-orders")
        if seen.get(record.key) is None:
            seen.put(record.key, record.timestamp)
            ctx.forward(record, to=out["inventory"])
            ctx.forward(record.with_value({"order": record.key}), to=out["audit"])

    produce(
        bootstrap,
        src,
        [(f"k{i % 5}".encode(), json.dumps({"n": i}).encode()) for i in range(N)],
        timestamps=[BASE_TS + 1000 * (i + 1) for i in range(N)],
    )
    produce(
        bootstrap,
        orders,
        [(f"o{i % 10}".encode(), json.dumps({"qty": i}).encode()) for i in range(30)],
    )
    app.start()
    try:
        assert app.wait_until_running(60)
        expect = {
            "flat_map": 2 * N,
            "flat_map_values": 2 * N,
            "filter": N // 2,
            "filter_not": N // 2,
            "small": 10,
            "big": 10,
            "rest": 80,
            "inventory": 10,
            "audit": 10,
            "ticks": 4,
        }
        results = {
            name: read_all(bootstrap, topic, expect=expect.get(name, N), timeout=60)
            for name, topic in out.items()
        }
    finally:
        app.stop()
    yield {"results": results, "peeked": peeked, "topics": out, "app": app}


def _values(msgs: list[Msg], decode: Callable[[bytes], Any] = lambda b: json.loads(b)) -> list[Any]:
    return sorted(decode(m.value) for m in msgs if m.value is not None)


def _i64(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


def test_map_changes_key_and_value(run: dict[str, Any]) -> None:
    msgs = run["results"]["map"]
    assert _values(msgs, _i64) == list(range(N))
    assert {json.loads(m.key) for m in msgs} == {f"K{i}" for i in range(5)}


def test_map_values_keeps_key(run: dict[str, Any]) -> None:
    msgs = run["results"]["map_values"]
    assert _values(msgs, _i64) == [i * 10 for i in range(N)]
    assert {m.key for m in msgs} == {f"k{i}".encode() for i in range(5)}


def test_flat_map_emits_every_pair(run: dict[str, Any]) -> None:
    msgs = run["results"]["flat_map"]
    assert len(msgs) == 2 * N
    assert sum(1 for m in msgs if m.key and m.key.endswith(b"x")) == N


def test_flat_map_values_emits_every_value(run: dict[str, Any]) -> None:
    assert _values(run["results"]["flat_map_values"], _i64) == sorted(
        [*range(N), *(i + 1000 for i in range(N))]
    )


def test_filter_and_filter_not_partition_the_input(run: dict[str, Any]) -> None:
    assert [v["n"] for v in _values_dicts(run["results"]["filter"])] == list(range(0, N, 2))
    assert [v["n"] for v in _values_dicts(run["results"]["filter_not"])] == list(range(1, N, 2))


def _values_dicts(msgs: list[Msg]) -> list[dict[str, Any]]:
    return sorted((json.loads(m.value or b"") for m in msgs), key=lambda v: v["n"])


def test_merge_joins_both_streams(run: dict[str, Any]) -> None:
    assert [v["n"] for v in _values_dicts(run["results"]["merge"])] == list(range(N))


def test_select_key_rekeys(run: dict[str, Any]) -> None:
    for m in run["results"]["select_key"]:
        assert m.key == str(json.loads(m.value or b"")["n"] % 3).encode()


def test_peek_sees_every_record(run: dict[str, Any]) -> None:
    assert sorted(n for _, n in run["peeked"]) == list(range(N))
    assert len(run["results"]["peek"]) == N


def test_split_routes_to_first_matching_branch(run: dict[str, Any]) -> None:
    r = run["results"]
    assert [v["n"] for v in _values_dicts(r["small"])] == list(range(10))
    assert [v["n"] for v in _values_dicts(r["big"])] == list(range(90, N))
    assert [v["n"] for v in _values_dicts(r["rest"])] == list(range(10, 90))


def test_repartition_colocates_keys(run: dict[str, Any]) -> None:
    msgs = run["results"]["repartition"]
    assert _values(msgs, _i64) == list(range(N))
    partitions: dict[bytes | None, set[int]] = {}
    for m in msgs:
        partitions.setdefault(m.key, set()).add(m.partition)
    assert len(partitions) == 7 and all(len(p) == 1 for p in partitions.values())


def test_process_forwards_to_named_children_and_punctuates(run: dict[str, Any]) -> None:
    r = run["results"]
    assert _values(r["process"], _i64) == list(range(N))
    kinds = {m.key for m in r["ticks"]}
    assert b"stream_time" in kinds and b"wall_clock" in kinds
    stream_ticks = sorted(_i64(m.value or b"") for m in r["ticks"] if m.key == b"stream_time")
    # a tick carries the stream time it fired at, a record's timestamp; the first record of
    # each task fires it at once (record 0 is the earliest, at BASE_TS + 1 s)
    assert stream_ticks[0] == BASE_TS + 1000
    assert set(stream_ticks) <= {BASE_TS + 1000 * (i + 1) for i in range(N)}, stream_ticks


def test_to_uses_the_partitioner(run: dict[str, Any]) -> None:
    msgs = run["results"]["partitioned"]
    assert len(msgs) == N and {m.partition for m in msgs} == {1}


def test_decorated_processor_uses_its_store_and_sinks(run: dict[str, Any]) -> None:
    r = run["results"]
    assert sorted(m.key for m in r["inventory"]) == sorted(f"o{i}".encode() for i in range(10))
    assert sorted(json.loads(m.value or b"")["order"] for m in r["audit"]) == sorted(
        f"o{i}" for i in range(10)
    )


def test_timestamps_and_keys_survive_the_round_trip(run: dict[str, Any]) -> None:
    msgs = run["results"]["filter"]
    for m in msgs:
        assert m.timestamp == BASE_TS + 1000 * (json.loads(m.value or b"")["n"] + 1)


def test_describe_names_the_internal_topics(run: dict[str, Any]) -> None:
    text = run["app"].describe()
    assert "-rekey-repartition" in text and "-seen-orders-changelog" in text
