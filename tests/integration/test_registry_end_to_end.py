"""Avro values through the broker on the real Schema Registry, in worker subprocesses: the
serde registers its schemas and resolves them by id end to end; and the migration recipe of
docs/migration.md, an ``at_least_once`` app switched to ``exactly_once_v2`` on the same
application id and state, with its output schema evolved under FULL at the switch."""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamlet.serde.avro import Avro

from apps_avro import READING, TALLY_V2, AvroWorker
from support import Msg, assert_no_open_transactions, produce, read_all, worker_env

pytestmark = pytest.mark.integration

KEYS = [f"sensor-{i}" for i in range(5)]


def _feed(bootstrap: str, registry_url: str, topic: str, seqs: range) -> None:
    """Readings ``seqs`` in the wire format, written by streamlet's serde (registers READING)."""
    writer = Avro(READING, registry=registry_url)
    produce(
        bootstrap,
        topic,
        [
            (KEYS[seq % len(KEYS)].encode(), writer.serialize(topic, {"seq": seq, "note": "n"}))
            for seq in seqs
        ],
    )


def _schema_id(msg: Msg) -> int:
    assert msg.value is not None
    magic, schema_id = struct.unpack_from(">bI", msg.value)
    assert magic == 0
    return int(schema_id)


def _decoded(registry_url: str, topic: str, msgs: list[Msg]) -> list[dict[str, Any]]:
    reader = Avro(TALLY_V2, registry=registry_url)  # resolves v1 data with v2's default
    return [reader.deserialize(topic, m.value) for m in msgs]


def test_avro_values_register_and_resolve_by_id_through_broker(
    bootstrap: str,
    registry_url: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("avro-in", partitions=2), make_topics("avro-out", partitions=2)
    client = SchemaRegistryClient({"url": registry_url})
    n = 100
    _feed(bootstrap, registry_url, src, range(n))
    env = worker_env(bootstrap, unique("avro"), src, out, tmp_path / "state", commit_ms=100)
    worker = AvroWorker("tally", {**env, "REGISTRY_URL": registry_url}, tmp_path / "w.log")
    msgs = read_all(bootstrap, out, expect=n, timeout=90)
    assert worker.terminate() == 0, worker.output()

    assert len(msgs) == n, worker.output()[-3000:]
    registered = client.get_latest_version(f"{out}-value")
    assert {_schema_id(m) for m in msgs} == {registered.schema_id}
    assert client.get_compatibility(f"{out}-value") == "FULL"
    assert client.get_versions(f"{src}-value") == [1]
    tallies = _decoded(registry_url, out, msgs)
    assert sorted(t["last_seq"] for t in tallies) == list(range(n))
    final = {t["key"]: t["count"] for t in tallies if t["count"] == n // len(KEYS)}
    assert sorted(final) == KEYS


def test_switch_from_at_least_once_to_exactly_once_v2_keeps_state_without_duplicates(
    bootstrap: str,
    registry_url: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("mig-in", partitions=2), make_topics("mig-out", partitions=2)
    client = SchemaRegistryClient({"url": registry_url})
    app_id, state = unique("migrate"), tmp_path / "state"
    env = {
        **worker_env(bootstrap, app_id, src, out, state, commit_ms=100),
        "REGISTRY_URL": registry_url,
    }
    before, after = 150, 150

    _feed(bootstrap, registry_url, src, range(before))
    alos = AvroWorker(
        "tally", {**env, "GUARANTEE": "at_least_once", "TALLY": "v1"}, tmp_path / "alos.log"
    )
    assert len(read_all(bootstrap, out, expect=before, timeout=90)) == before, alos.output()
    assert alos.terminate() == 0, alos.output()  # a clean stop commits what it processed

    _feed(bootstrap, registry_url, src, range(before, before + after))
    eos = AvroWorker(
        "tally", {**env, "GUARANTEE": "exactly_once_v2", "TALLY": "v2"}, tmp_path / "eos.log"
    )
    msgs = read_all(bootstrap, out, expect=before + after, timeout=90)  # read_committed
    assert eos.terminate() == 0, eos.output()
    assert_no_open_transactions(bootstrap, out)

    tallies = _decoded(registry_url, out, msgs)
    seen = Counter(t["last_seq"] for t in tallies)
    assert sorted(seen) == list(range(before + after)), "a reading was lost"
    switched = {seq: k for seq, k in seen.items() if seq >= before and k > 1}
    assert not switched, f"duplicates after the switch point: {switched}"
    assert not [seq for seq, k in seen.items() if k > 1], "duplicates before the switch"
    assert {t["guarantee"] for t in tallies if t["last_seq"] < before} == {"at_least_once"}
    assert {t["guarantee"] for t in tallies if t["last_seq"] >= before} == {"exactly_once_v2"}
    # the state carried over: each key's count runs 1..n across the switch, no gap or repeat
    for key in KEYS:
        counts = sorted(t["count"] for t in tallies if t["key"] == key)
        assert counts == list(range(1, (before + after) // len(KEYS) + 1)), key
    # the output schema evolved under FULL at the switch: version 2 of the subject
    assert client.get_versions(f"{out}-value") == [1, 2]
    v1_id, v2_id = (client.get_version(f"{out}-value", v).schema_id for v in (1, 2))
    by_phase = {
        (t["last_seq"] >= before, _schema_id(m)) for t, m in zip(tallies, msgs, strict=True)
    }
    assert by_phase == {(False, v1_id), (True, v2_id)}
