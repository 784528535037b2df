"""The production error policy covers records the broker rejects (here: larger than the
output topic's ``max.message.bytes``): FAIL stops with the input record's location,
CONTINUE skips that input, DEAD_LETTER sends it to the dead-letter topic, each exactly once,
and every other record comes out exactly once (issue 10, defect 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin
from streamlet.runtime.exitcodes import EXIT_RECORD_FAILED

from apps_core import CoreWorker
from support import FAST_GROUP, produce, read_all, worker_env

pytestmark = pytest.mark.chaos

N = 60
POISON = {17, 41}


def _value(seq: int) -> bytes:
    pad = "x" * (3000 if seq in POISON else 10)
    return json.dumps({"seq": seq, "pad": pad}).encode()


@pytest.mark.parametrize("policy", ["fail", "continue", "dead_letter"])
def test_broker_rejected_output_follows_the_production_policy(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
    policy: str,
) -> None:
    src = make_topics("in")
    out = make_topics("out", config={"max.message.bytes": "1024"})
    app_id = unique("reject")
    produce(bootstrap, src, [(f"k{i}".encode(), _value(i)) for i in range(N)])
    env = worker_env(
        bootstrap,
        app_id,
        src,
        out,
        tmp_path / "state",
        commit_ms=500,
        config=FAST_GROUP,
        POLICY=policy,
    )
    worker = CoreWorker("echo_policy", env, tmp_path / "worker.log")
    first = min(POISON)
    if policy == "fail":
        assert worker.wait(120) == EXIT_RECORD_FAILED, worker.output()
        assert f"topic={src} partition=0 offset={first}" in worker.output(), worker.output()
        seqs = [json.loads(m.value or b"")["seq"] for m in read_all(bootstrap, out, idle=1.0)]
        assert seqs == list(range(first))  # exactly the records before it
        committed = Admin(bootstrap).committed_offsets(app_id, src)
        assert committed.get(0, 0) <= first
        return
    expected = [i for i in range(N) if i not in POISON]
    outputs = read_all(bootstrap, out, expect=len(expected), timeout=120)
    assert worker.alive(), worker.output()
    assert worker.terminate() == 0, worker.output()
    assert [json.loads(m.value or b"")["seq"] for m in outputs] == expected
    if policy == "dead_letter":
        dead = read_all(bootstrap, f"{app_id}-dlq", expect=len(POISON), timeout=30)
        offsets = sorted(int(dict(m.headers)["streamlet.source.offset"] or b"") for m in dead)
        assert offsets == sorted(POISON)
