"""Error policies on the real broker: FAIL stops precisely and commits nothing past the bad
record; CONTINUE skips, counts and reports; DEAD_LETTER routes a record whose processing
raised to the dead-letter topic, naming the processor, and goes on."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_dlq import (
    CHECKER,
    UNKNOWN_SCHEMA_ID,
    DlqWorker,
    avro_value,
    bad_json_value,
    build_checked,
    json_value,
)
from support import Msg, assert_no_open_transactions, producer, read_all

pytestmark = pytest.mark.integration


def _env(bootstrap: str, app_id: str, state: Path, policy: str, **topics: str) -> dict[str, str]:
    return {
        "APP_ID": app_id,
        "BOOTSTRAP": bootstrap,
        "COMMIT_MS": "50",
        "STATE_DIR": str(state),
        "POLICY": policy,
        **topics,
    }


def _produce(
    bootstrap: str,
    records: list[tuple[str, bytes, bytes]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """(topic, key, value) in order, keyed partitioning, plus ``headers`` on every record."""
    p = producer(bootstrap)
    for topic, key, value in records:
        p.produce(topic, value, key, headers=headers)
        p.poll(0)
    assert p.flush(30) == 0


def _no_topic(bootstrap: str, topic: str) -> bool:
    return Admin(bootstrap).describe([topic])[topic] is None


@pytest.mark.parametrize("kind", ["json", "avro"])
def test_fail_on_bad_record_stops_naming_it_and_commits_nothing_past_it(
    kind: str,
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    json_in, avro_in, out = make_topics("json-in"), make_topics("avro-in"), make_topics("out")
    app_id = unique("fail")
    src = json_in if kind == "json" else avro_in
    bad_at = 150

    def value(seq: int) -> bytes:
        if kind == "json":
            return bad_json_value(seq) if seq == bad_at else json_value(seq)
        return avro_value(seq, UNKNOWN_SCHEMA_ID if seq == bad_at else 1)

    worker = DlqWorker(
        "mixed",
        _env(bootstrap, app_id, tmp_path, "fail", JSON_IN=json_in, AVRO_IN=avro_in, OUT=out),
        tmp_path / "worker.log",
    )
    # the good records before the bad one are processed and committed first
    _produce(bootstrap, [(src, f"k{i % 7}".encode(), value(i)) for i in range(bad_at)])
    _wait_committed(bootstrap, app_id, {src: bad_at}, worker)
    _produce(bootstrap, [(src, f"k{i % 7}".encode(), value(i)) for i in range(bad_at, 300)])
    assert worker.wait(60) != 0, worker.output()
    log = worker.output()
    assert "SerializationError" in log, log
    assert f"topic={src} partition=0 offset={bad_at}" in log, log
    if kind == "avro":
        assert f"unknown schema id {UNKNOWN_SCHEMA_ID}" in log, log
    else:
        assert "Json cannot deserialize" in log, log
    committed = Admin(bootstrap).committed_offsets(app_id, src).get(0, 0)
    assert committed == bad_at, "committed past the bad record, or lost committed progress"
    outputs = [json.loads(m.value or b"") for m in read_all(bootstrap, out, idle=1.0)]
    assert outputs == [{"src": kind, "seq": i} for i in range(committed)], (
        f"output differs from the input below the committed offset {committed}"
    )
    assert_no_open_transactions(bootstrap, out)
    assert _no_topic(bootstrap, f"{app_id}-dlq"), "FAIL created a dead-letter topic"


def test_continue_on_bad_records_skips_counts_and_reports_them(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    json_in = make_topics("json-in", partitions=2)
    avro_in = make_topics("avro-in", partitions=2)
    out = make_topics("out", partitions=2)
    app_id = unique("continue")
    records: list[tuple[str, bytes, bytes]] = []
    good: list[tuple[str, int]] = []
    bad = 0
    for i in range(400):
        json_bad, avro_bad = i % 50 == 13, i % 40 == 29
        bad += json_bad + avro_bad
        records.append(
            (json_in, f"j{i}".encode(), bad_json_value(i) if json_bad else json_value(i))
        )
        records.append(
            (avro_in, f"a{i}".encode(), avro_value(i, UNKNOWN_SCHEMA_ID if avro_bad else 1))
        )
        good += [("json", i)] if not json_bad else []
        good += [("avro", i)] if not avro_bad else []
    assert bad == 8 + 10
    _produce(bootstrap, records)
    worker = DlqWorker(
        "mixed",
        _env(bootstrap, app_id, tmp_path, "continue", JSON_IN=json_in, AVRO_IN=avro_in, OUT=out),
        tmp_path / "worker.log",
    )
    outputs = read_all(bootstrap, out, expect=len(good), timeout=90)
    _wait_committed(bootstrap, app_id, {json_in: 400, avro_in: 400}, worker)
    assert worker.terminate() == 0, worker.output()
    log = worker.output()

    got = Counter((v["src"], v["seq"]) for v in (json.loads(m.value or b"") for m in outputs))
    assert got == Counter(good), "every good record exactly once, no bad one"
    reported = re.findall(r"stopped \(clean\) after \d+ records; (\d+) skipped", log)
    assert reported == [str(bad)], log
    assert log.count("skipping record (policy CONTINUE)") == bad, log
    assert log.count(f"unknown schema id {UNKNOWN_SCHEMA_ID}") == 10, log
    assert_no_open_transactions(bootstrap, out)
    assert _no_topic(bootstrap, f"{app_id}-dlq"), "CONTINUE created a dead-letter topic"


def test_dead_letter_on_processing_error_names_processor_and_continues(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=2), make_topics("out", partitions=2)
    app_id = unique("dlq-proc")
    env = _env(bootstrap, app_id, tmp_path, "dead_letter", IN=src, OUT=out)
    env |= {"BAD_MOD": "25", "BAD_REM": "7"}
    n = 300
    bad_seqs = {i for i in range(n) if i % 25 == 7}
    trace = ("trace", b"from-the-test")
    _produce(bootstrap, [(src, f"k{i}".encode(), json_value(i)) for i in range(n)], [trace])
    worker = DlqWorker("checked", env, tmp_path / "worker.log")
    dlq = f"{app_id}-dlq"
    outputs = read_all(bootstrap, out, expect=n - len(bad_seqs), timeout=90)
    _wait_committed(bootstrap, app_id, {src: n}, worker)
    assert worker.alive(), "the worker stopped instead of dead-lettering:\n" + worker.output()
    dead = read_all(bootstrap, dlq, expect=len(bad_seqs), timeout=30)
    assert worker.terminate() == 0, worker.output()

    seen = Counter(json.loads(m.value or b"")["seq"] for m in outputs)
    assert seen == Counter(i for i in range(n) if i not in bad_seqs)
    inputs = {m.key: m for m in read_all(bootstrap, src, expect=n)}
    assert sorted(json.loads(m.value or b"")["seq"] for m in dead) == sorted(bad_seqs)
    qualname = f"{build_checked.__module__}.build_checked.<locals>.check"
    for m in dead:
        original = inputs[m.key]
        headers = _headers(m)
        assert m.value == original.value
        assert headers["streamlet.error.class"] == b"ProcessingError"
        message = headers["streamlet.error.message"].decode()
        seq = json.loads(m.value or b"")["seq"]
        assert f"processor {CHECKER!r} failed in {qualname}" in message, message
        assert f"ValueError: seq {seq} is rejected" in message, message
        assert f"topic={src} partition={original.partition} offset={original.offset}" in message
        _assert_source(headers, src, original)
        assert headers["streamlet.processor"] == CHECKER.encode()
        assert m.timestamp >= original.timestamp  # when dead-lettered; the header keeps it
        assert m.headers[-1] == trace, "the input's own headers follow streamlet's"
    assert re.findall(r"stopped \(clean\) after \d+ records; (\d+) skipped", worker.output()) == [
        str(len(bad_seqs))
    ]
    assert_no_open_transactions(bootstrap, out, dlq)


def _headers(m: Msg) -> dict[str, bytes]:
    return {k: v or b"" for k, v in m.headers if k.startswith("streamlet.")}


def _assert_source(headers: dict[str, bytes], topic: str, original: Msg) -> None:
    assert headers["streamlet.source.topic"] == topic.encode()
    assert headers["streamlet.source.partition"] == str(original.partition).encode()
    assert headers["streamlet.source.offset"] == str(original.offset).encode()
    assert headers["streamlet.timestamp"] == str(original.timestamp).encode()


def _wait_committed(bootstrap: str, app_id: str, ends: dict[str, int], worker: DlqWorker) -> None:
    """Until the group's committed offsets cover ``ends`` (records per topic): the skipped
    records at the tail are committed too, so the shutdown count includes all of them."""
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 60
    while True:
        committed = {t: sum(admin.committed_offsets(app_id, t).values()) for t in ends}
        if committed == ends:
            return
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"committed {committed}, want {ends}"
        time.sleep(0.2)
