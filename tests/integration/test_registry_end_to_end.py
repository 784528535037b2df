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
from support import (
    FAST_GROUP,
    Msg,
    assert_no_open_transactions,
    produce,
    read_all,
    worker_env,
)

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


@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_switch_from_at_least_once_to_exactly_once_v2_has_no_duplicates_after_switch(
    stop: str,
    bootstrap: str,
    registry_url: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Phase 1 at_least_once writes Tally v1, then is stopped (SIGTERM) or killed (SIGKILL);
    phase 2 exactly_once_v2 on the same app id and state dir writes Tally v2. The switch
    point is phase 1's committed input offsets: from there on every reading is in the
    output once. A clean stop leaves nothing to replay, so then there are no duplicates at
    all and each key's count runs on across the switch; after a kill, phase 2 replays from
    the last commit what phase 1 had already written."""
    src, out = make_topics("mig-in", partitions=2), make_topics("mig-out", partitions=2)
    client = SchemaRegistryClient({"url": registry_url})
    app_id, state = unique("migrate"), tmp_path / "state"
    env = {
        **worker_env(bootstrap, app_id, src, out, state, commit_ms=100, config=FAST_GROUP),
        "REGISTRY_URL": registry_url,
    }
    before, after = 150, 150
    total = before + after

    _feed(bootstrap, registry_url, src, range(before))
    # killed, it has committed nothing (a commit interval longer than the phase): all of
    # phase 1 is replayed by phase 2, the worst case of a crash
    commit_ms = "100" if stop == "terminate" else "120000"
    alos_env = {**env, "GUARANTEE": "at_least_once", "TALLY": "v1", "COMMIT_MS": commit_ms}
    alos = AvroWorker("tally", alos_env, tmp_path / "alos.log")
    assert len(read_all(bootstrap, out, expect=before, timeout=90)) >= before, alos.output()
    if stop == "kill":
        alos.kill()
    else:
        assert alos.terminate() == 0, alos.output()  # a clean stop commits what it processed

    _feed(bootstrap, registry_url, src, range(before, total))
    eos = AvroWorker(
        "tally", {**env, "GUARANTEE": "exactly_once_v2", "TALLY": "v2"}, tmp_path / "eos.log"
    )
    msgs = read_all(bootstrap, out, expect=total, timeout=90)  # read_committed
    assert eos.terminate() == 0, eos.output()
    assert_no_open_transactions(bootstrap, out)

    tallies = _decoded(registry_url, out, msgs)
    assert {t["last_seq"] for t in tallies} == set(range(total)), "a reading was lost"
    eos_seqs = Counter(t["last_seq"] for t in tallies if t["guarantee"] == "exactly_once_v2")
    switch = min(eos_seqs)
    assert switch <= before
    assert sorted(eos_seqs) == list(range(switch, total)), "EOS skipped a reading"
    duplicated = {seq: k for seq, k in eos_seqs.items() if k > 1}
    assert not duplicated, f"duplicates after the switch point {switch}: {duplicated}"
    alos_seqs = {t["last_seq"] for t in tallies if t["guarantee"] == "at_least_once"}
    assert alos_seqs >= set(range(switch))
    # the output schema evolved under FULL at the switch: version 2 of the subject
    assert client.get_versions(f"{out}-value") == [1, 2]
    v1_id, v2_id = (client.get_version(f"{out}-value", v).schema_id for v in (1, 2))
    by_phase = {(t["guarantee"], _schema_id(m)) for t, m in zip(tallies, msgs, strict=True)}
    assert by_phase == {("at_least_once", v1_id), ("exactly_once_v2", v2_id)}
    if stop == "terminate":
        assert switch == before and len(tallies) == total, "a clean stop left a replay"
        # the state carried over: each key's count runs 1..n across the switch
        for key in KEYS:
            counts = sorted(t["count"] for t in tallies if t["key"] == key)
            assert counts == list(range(1, total // len(KEYS) + 1)), key
    else:
        assert switch == 0, "the kill came after a commit: nothing was replayed"
