"""Dead letters under SIGKILL: a JSON and an Avro stream, each with 1% bad records (invalid
JSON; Avro with an unknown schema id), DEAD_LETTER for deserialization, kills inside open
transactions and restarts on the kept state dir. A read_committed consumer sees every good
record in the output exactly once, in input order, and every bad record in the dead-letter
topic exactly once, with its original key and value bytes and headers naming the error, the
record's source topic/partition/offset, the source node and the record's timestamp."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_dlq import (
    UNKNOWN_SCHEMA_ID,
    DlqWorker,
    avro_value,
    bad_json_value,
    build_mixed,
    json_value,
    source_names,
)
from support import (
    FAST_GROUP,
    Feeder,
    Msg,
    assert_no_open_transactions,
    by_partition,
    read_all,
    wait_for_progress,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 3
KILLS = 4
RATE = 100  # records per second into each input topic
JSON_BAD, AVRO_BAD = 37, 71  # seq % 100 == these are bad: 1% of each topic


@dataclass(frozen=True)
class Sent:
    src: str  # "json" or "avro"
    seq: int
    bad: bool


class MixedFeeder(Feeder):
    """Produces seq n to both input topics at a steady rate until stopped; 1% of each is bad.
    Keys are unique (``j-<n>``, ``a-<n>``), so a record is found again by its key."""

    def __init__(self, bootstrap: str, json_in: str, avro_in: str) -> None:
        super().__init__(bootstrap, RATE)
        self._json_in, self._avro_in = json_in, avro_in
        self.sent: dict[bytes, Sent] = {}

    def feed(self, n: int) -> None:
        json_bad, avro_bad = n % 100 == JSON_BAD, n % 100 == AVRO_BAD
        value = bad_json_value(n) if json_bad else json_value(n)
        self._send(self._json_in, f"j-{n}".encode(), value, Sent("json", n, json_bad))
        value = avro_value(n, UNKNOWN_SCHEMA_ID) if avro_bad else avro_value(n)
        self._send(self._avro_in, f"a-{n}".encode(), value, Sent("avro", n, avro_bad))

    def _send(self, topic: str, key: bytes, value: bytes, sent: Sent) -> None:
        self.producer.produce(topic, value, key)
        self.sent[key] = sent


def _wait_for_open_transaction(bootstrap: str, topic: str, worker: DlqWorker) -> None:
    """Until ``topic`` holds records of a transaction not yet committed (LSO < HWM)."""
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 30
    while admin.end_offsets(topic, committed_only=True) == admin.end_offsets(
        topic, committed_only=False
    ):
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"no open transaction on {topic}"
        time.sleep(0.02)


def test_dead_letter_under_sigkill_routes_each_bad_record_exactly_once(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    json_in = make_topics("json-in", partitions=PARTITIONS)
    avro_in = make_topics("avro-in", partitions=PARTITIONS)
    out = make_topics("out", partitions=PARTITIONS)
    app_id = unique("dlq")
    dlq = f"{app_id}-dlq"
    env = {
        "APP_ID": app_id,
        "JSON_IN": json_in,
        "AVRO_IN": avro_in,
        "OUT": out,
        "BOOTSTRAP": bootstrap,
        "COMMIT_MS": "1500",
        "STATE_DIR": str(tmp_path / "state"),
        "POLICY": "dead_letter",
        "CONFIG": FAST_GROUP,
    }
    sources = source_names(build_mixed(env))
    feeder = MixedFeeder(bootstrap, json_in, avro_in)
    feeder.start()
    rng = random.Random(11)
    for i in range(KILLS):
        worker = DlqWorker("mixed", env, tmp_path / f"worker-{i}.log")
        wait_for_progress(bootstrap, out, worker)
        if i % 2 == 0:
            # right after a dead letter was written into the open transaction
            _wait_for_open_transaction(bootstrap, dlq, worker)
        else:
            # the commit interval is 1.5 s: a kill 0.3-2.5 s after progress lands mid-transaction
            time.sleep(rng.uniform(0.3, 2.5))
        assert worker.alive(), worker.output()
        worker.kill()
    while sum(s.bad for s in list(feeder.sent.values())) < 24:  # enough bad records of both kinds
        time.sleep(0.2)
    feeder.stop()
    sent = feeder.sent
    final = DlqWorker("mixed", env, tmp_path / "worker-final.log")
    good = {k: s for k, s in sent.items() if not s.bad}
    bad = {k: s for k, s in sent.items() if s.bad}
    assert len(bad) >= 20 and {s.src for s in bad.values()} == {"json", "avro"}

    outputs = read_all(bootstrap, out, expect=len(good), timeout=120)
    dead = read_all(bootstrap, dlq, expect=len(bad), timeout=60)
    assert final.terminate() == 0, final.output()
    aborted = len(read_all(bootstrap, out, committed=False, idle=1.0)) - len(outputs)
    aborted_dead = len(read_all(bootstrap, dlq, committed=False, idle=1.0)) - len(dead)
    print(
        f"\n{KILLS} SIGKILLs; {len(sent)} inputs ({len(bad)} bad); {len(outputs)} committed "
        f"outputs, {len(dead)} committed dead letters; aborted and invisible to "
        f"read_committed: {aborted} outputs, {aborted_dead} dead letters"
    )
    assert aborted > 0, "no kill landed inside an open transaction"
    assert aborted_dead > 0, "no kill landed inside a transaction holding a dead letter"

    inputs = {
        topic: read_all(bootstrap, topic, expect=sum(s.src == src for s in sent.values()))
        for topic, src in ((json_in, "json"), (avro_in, "avro"))
    }
    by_key = {m.key: (topic, m) for topic, msgs in inputs.items() for m in msgs}
    assert set(by_key) == set(sent)

    # every good record exactly once, in its input partition's order
    got = Counter((v["src"], v["seq"]) for v in (json.loads(m.value or b"") for m in outputs))
    assert got == Counter((s.src, s.seq) for s in good.values()), "good records lost or doubled"
    out_parts = by_partition(outputs)
    for topic, src in ((json_in, "json"), (avro_in, "avro")):
        for partition, msgs in by_partition(inputs[topic]).items():
            expected = [good[m.key].seq for m in msgs if m.key in good]
            seen = [
                v["seq"]
                for v in (json.loads(m.value or b"") for m in out_parts.get(partition, []))
                if v["src"] == src
            ]
            assert seen == expected, f"{topic}[{partition}]: output order differs from input"

    # every bad record exactly once in the dead-letter topic, as it was, with its context
    assert Counter(m.key for m in dead) == Counter(bad.keys()), "bad records lost or doubled"
    for m in dead:
        topic, original = by_key[m.key]
        _assert_dead_letter(m, topic, original, sources[topic], bad[m.key].src)

    assert_no_open_transactions(bootstrap, out, dlq)
    admin = Admin(bootstrap)
    for topic, msgs in inputs.items():
        ends = {p: ms[-1].offset + 1 for p, ms in by_partition(msgs).items()}
        assert admin.committed_offsets(app_id, topic) == ends, f"{topic}: committed offsets"


def _assert_dead_letter(m: Msg, topic: str, original: Msg, source: str, src: str) -> None:
    assert m.key == original.key and m.value == original.value, "not the original bytes"
    assert m.timestamp >= original.timestamp  # when it was dead-lettered; the header keeps it
    headers = {k: v or b"" for k, v in m.headers}
    assert len(m.headers) == len(headers) == 7, m.headers
    where = f"topic={topic} partition={original.partition} offset={original.offset}"
    message = headers["streamlet.error.message"].decode()
    assert headers["streamlet.error.class"] == b"SerializationError"
    assert where in message, message
    if src == "avro":
        assert f"unknown schema id {UNKNOWN_SCHEMA_ID}" in message, message
    else:
        assert "Json cannot deserialize" in message, message
    assert headers["streamlet.source.topic"] == topic.encode()
    assert headers["streamlet.source.partition"] == str(original.partition).encode()
    assert headers["streamlet.source.offset"] == str(original.offset).encode()
    assert headers["streamlet.processor"] == source.encode()
    assert headers["streamlet.timestamp"] == str(original.timestamp).encode()
