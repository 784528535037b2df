"""Exactly-once with the record cache on, under SIGKILL.

The ``stateful`` app of apps.py (echo; running sum and min per key; count per bucket through
a repartition topic) with a record cache small enough that it both coalesces (few keys, a
long commit interval) and evicts (forwarding from inside open transactions). Workers are
SIGKILLed and restarted on kept and wiped state dirs. Then: every aggregate output is the
fold of a prefix of its key's input, prefixes only growing (no value from an aborted
transaction, none out of order); the last output and the last changelog record of each key
are the fold of all its committed input; updates were coalesced; kills landed inside open
transactions.
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
    Msg,
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
KEYS = 300


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


def _series(msgs: list[Msg]) -> dict[bytes | None, list[int]]:
    out: dict[bytes | None, list[int]] = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        out.setdefault(m.key, []).append(_i64(m.value))
    return out


def _per_key(inputs: dict[int, list[Msg]]) -> dict[bytes | None, list[int]]:
    per_key: dict[bytes | None, list[int]] = {}
    for p in sorted(inputs):
        for m in inputs[p]:
            per_key.setdefault(m.key, []).append(json.loads(m.value or b"")["value"])
    return per_key


def _assert_prefix_folds(name: str, got: list[int], folds: list[int]) -> None:
    """``got`` picks folds of ever longer prefixes and ends with the fold of everything."""
    j = -1
    for value in got:
        j += 1
        while j < len(folds) and folds[j] != value:
            j += 1
        assert j < len(folds), f"{name}: {value} is no fold of a longer prefix ({got=})"
    assert got and got[-1] == folds[-1], f"{name}: the last output is not the fold of all input"


def test_cached_state_is_the_fold_of_committed_input_after_sigkills(
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
    app_id = unique("cached")
    state = tmp_path / "state"
    # ~200 bytes an entry: some 200 of the ~950 rows fit, so keys are evicted between commits
    env = worker_env(
        bootstrap, app_id, src, out, state, commit_ms=1500, config=FAST_GROUP, CACHE_BYTES="40000"
    )
    feeder = RandomFeeder(bootstrap, src, rate=1500, seed=5, keys=KEYS)
    feeder.start()
    rng = random.Random(7)
    for i, restart in enumerate(["keep", "wipe", "keep", "wipe"]):
        if restart == "wipe":
            shutil.rmtree(state, ignore_errors=True)
        worker = WorkerProcess("stateful", env, tmp_path / f"worker-{i}.log")
        wait_for_progress(bootstrap, f"{out}-sums", worker)
        time.sleep(rng.uniform(0.5, 2.0))  # the fault's own timing: the kill lands at random
        assert worker.alive(), worker.output()
        worker.kill()
    sent = feeder.stop()
    final = WorkerProcess("stateful", env, tmp_path / "worker-final.log")
    echo = read_all(bootstrap, f"{out}-echo", expect=sent, timeout=180)
    assert len(echo) == sent, f"echo has {len(echo)} of {sent} records"
    got = {t: read_all(bootstrap, f"{out}-{t}", idle=3.0) for t in ("sums", "mins", "counts")}
    assert final.terminate() == 0, final.output()

    internal = [f"{app_id}-{store}-changelog" for store in ("sums", "mins", "bucket-counts")]
    for topic in (*(f"{out}-{t}" for t in ("echo", "sums", "mins", "counts")), *internal):
        assert_no_open_transactions(bootstrap, topic)
    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    assert admin.committed_offsets(app_id, src) == {p: len(ms) for p, ms in inputs.items()}
    got_echo = by_partition(echo)
    for p, ms in inputs.items():
        assert [json.loads(m.value or b"") for m in got_echo[p]] == [
            json.loads(m.value or b"") for m in ms
        ], f"echo partition {p}"

    per_key = _per_key(inputs)
    folds: dict[str, dict[bytes | None, list[int]]] = {"sums": {}, "mins": {}}
    for key, values in per_key.items():
        for name, fold in (("sums", lambda a, v: a + v), ("mins", min)):
            running: list[int] = []
            for v in values:
                running.append(v if not running else fold(running[-1], v))
            folds[name][key] = running
    buckets: dict[bytes | None, list[int]] = {}
    for values in per_key.values():
        for v in values:
            series = buckets.setdefault(f"b{v % 17}".encode(), [0])
            series.append(series[-1] + 1)
    expected = {"sums": folds["sums"], "mins": folds["mins"], "counts": buckets}
    changelogs = {"sums": internal[0], "mins": internal[1], "counts": internal[2]}
    for name, want in expected.items():
        seen = _series(got[name])
        assert set(seen) == set(want), f"{name}: keys differ"
        for key, series in seen.items():
            _assert_prefix_folds(f"{name} of {key!r}", series, want[key])
        restored = _series(read_all(bootstrap, changelogs[name], idle=1.0))
        assert {k: v[-1] for k, v in restored.items()} == {k: v[-1] for k, v in want.items()}, (
            f"{name}: the changelog does not hold the final state"
        )
    outputs = sum(len(got[name]) for name in ("sums", "mins"))
    print(f"\n{sent} inputs; {outputs} sums+mins outputs (uncached: {2 * sent})")
    assert outputs < 2 * sent, "the cache coalesced no update"
    aborted = len(read_all(bootstrap, f"{out}-sums", committed=False, idle=1.0)) - len(got["sums"])
    print(f"{aborted} aborted sums records invisible to read_committed")
    assert aborted > 0, "no kill landed inside an open transaction"
