"""Kafka Streams' own exactly-once check for state, under SIGKILL.

Random keys and values; the topology echoes, keeps a running sum and a running min per key,
and counts per bucket through a repartition topic (a second sub-topology). Workers are
SIGKILLed inside open transactions and restarted, sometimes on their state dir and
sometimes on a wiped one. Then, per partition: the echo equals the input in order, the
j-th aggregate of a key equals the fold of that key's first j inputs, no transaction is
open, and no output exists that the committed input does not explain.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from support import (
    FAST_GROUP,
    RandomFeeder,
    WorkerProcess,
    assert_no_open_transactions,
    by_partition,
    read_all,
    wait_for_progress,
    worker_env,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 3


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


def test_state_is_the_fold_of_committed_input_after_sigkills(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src = make_topics("in", partitions=PARTITIONS)
    out = unique("out")
    admin = Admin(bootstrap)
    for suffix in ("echo", "sums", "mins", "counts"):
        admin.ensure_topic(f"{out}-{suffix}", PARTITIONS, {})
    app_id = unique("state")
    state = tmp_path / "state"
    env = worker_env(bootstrap, app_id, src, out, state, commit_ms=1500, config=FAST_GROUP)
    feeder = RandomFeeder(bootstrap, src, rate=1500, seed=11)
    feeder.start()
    rng = random.Random(3)
    plan = ["keep", "wipe", "keep", "keep", "wipe", "keep"]
    resumed: list[float] = []
    for i, restart in enumerate(plan):
        if restart == "wipe":
            shutil.rmtree(state, ignore_errors=True)
        worker = WorkerProcess("stateful", env, tmp_path / f"worker-{i}.log")
        started = time.monotonic()
        wait_for_progress(bootstrap, f"{out}-sums", worker)
        resumed.append(time.monotonic() - started)
        time.sleep(rng.uniform(0.3, 2.5))
        assert worker.alive(), worker.output()
        worker.kill()
    sent = feeder.stop()
    final = WorkerProcess("stateful", env, tmp_path / "worker-final.log")
    echo = read_all(bootstrap, f"{out}-echo", expect=sent, timeout=180)
    sums = read_all(bootstrap, f"{out}-sums", expect=sent, timeout=60)
    mins = read_all(bootstrap, f"{out}-mins", expect=sent, timeout=60)
    counts = read_all(bootstrap, f"{out}-counts", expect=sent, timeout=60)
    assert final.terminate() == 0, final.output()
    print(
        f"\n{len(plan)} SIGKILLs ({plan.count('wipe')} restarts on a wiped state dir); "
        f"{sent} inputs; restart to first output: " + ", ".join(f"{s:.1f}s" for s in resumed)
    )

    for topic in ("echo", "sums", "mins", "counts"):
        assert_no_open_transactions(bootstrap, f"{out}-{topic}")
    # the kills landed inside open transactions: their records are there, aborted
    aborted = len(read_all(bootstrap, f"{out}-sums", committed=False, idle=1.0)) - len(sums)
    print(f"{aborted} aborted sums records invisible to read_committed")
    assert aborted > 0, "no kill landed inside an open transaction"
    committed = admin.committed_offsets(app_id, src)
    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    assert committed == {p: len(ms) for p, ms in inputs.items()}, "the cut is not all input"

    # echo: per partition, the input in order
    got_echo = by_partition(echo)
    for p, ms in inputs.items():
        assert [json.loads(m.value or b"") for m in got_echo[p]] == [
            json.loads(m.value or b"") for m in ms
        ], f"echo partition {p}"

    # running sum and min per key: the j-th output equals the fold of the first j inputs
    per_key: dict[bytes | None, list[int]] = {}
    for p in sorted(inputs):
        for m in inputs[p]:
            per_key.setdefault(m.key, []).append(json.loads(m.value or b"")["value"])
    for name, aggregates, fold in (("sums", sums, lambda a, v: a + v), ("mins", mins, min)):
        seen: dict[bytes | None, list[int]] = {}
        for m in sorted(aggregates, key=lambda m: (m.partition, m.offset)):
            seen.setdefault(m.key, []).append(_i64(m.value))
        assert set(seen) == set(per_key), f"{name}: keys differ"
        for key, values in per_key.items():
            running, expected = None, []
            for v in values:
                running = v if running is None else fold(running, v)
                expected.append(running)
            assert seen[key] == expected, f"{name} of {key!r}"

    # count per bucket through the repartition topic: 1, 2, ..., n for each bucket
    buckets: dict[bytes | None, list[int]] = {}
    for m in sorted(counts, key=lambda m: (m.partition, m.offset)):
        buckets.setdefault(m.key, []).append(_i64(m.value))
    want: dict[str, int] = {}
    for values in per_key.values():
        for v in values:
            want[f"b{v % 17}"] = want.get(f"b{v % 17}", 0) + 1
    assert {k.decode(): len(v) for k, v in buckets.items() if k} == want
    for key, series in buckets.items():
        assert series == list(range(1, len(series) + 1)), f"count of bucket {key!r}"
