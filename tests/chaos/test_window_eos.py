"""Emit-on-close windows stay exactly once under SIGKILL.

A tumbling count per key, ``ON_WINDOW_CLOSE``, fed continuously with event time = now; the
worker is SIGKILLed inside open transactions and restarted, on its state dir or on a wiped
one (restored from the changelog), and once its tasks move to a second worker. Then, read_committed: every window of the committed input
comes out exactly once with its full count — none missing, none twice, none early (an early
emission would carry a smaller count, and the window would come out again).
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_window import WindowWorker
from support import (
    FAST_GROUP,
    RandomFeeder,
    assert_no_open_transactions,
    key_for_partition,
    produce,
    read_all,
    wait_for_progress,
    worker_env,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 3
SIZE_MS, GRACE_MS = 1_000, 500


def test_closed_windows_come_out_exactly_once_after_sigkills(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    src = make_topics("win-in", partitions=PARTITIONS)
    out = make_topics("win-out", partitions=PARTITIONS)
    app_id = unique("win")
    state = tmp_path / "state"
    env = worker_env(
        bootstrap,
        app_id,
        src,
        out,
        state,
        commit_ms=1500,
        config=FAST_GROUP,
        SIZE_MS=str(SIZE_MS),
        GRACE_MS=str(GRACE_MS),
    )
    feeder = RandomFeeder(bootstrap, src, rate=1500, seed=5, keys=40)
    feeder.start()
    rng = random.Random(8)
    # "move": a second worker on its own state dir shares the tasks, then one of the two is
    # killed and its tasks move to the other (restored from the changelogs)
    plan = ["keep", "wipe", "move", "keep", "wipe", "keep"]
    kills = 0
    for i, restart in enumerate(plan):
        if restart == "wipe":
            shutil.rmtree(state, ignore_errors=True)
        worker = WindowWorker("tumbling_count", env, tmp_path / f"worker-{i}.log")
        wait_for_progress(bootstrap, out, worker)
        if restart == "move":
            other_env = {**env, "STATE_DIR": str(tmp_path / "state-other")}
            other = WindowWorker("tumbling_count", other_env, tmp_path / f"worker-{i}b.log")
            wait_for_progress(bootstrap, out, other)
            time.sleep(rng.uniform(0.3, 2.0))
            worker.kill()  # its tasks move to the other worker
            kills += 1
            wait_for_progress(bootstrap, out, other)
            worker = other
        time.sleep(rng.uniform(0.3, 2.0))
        assert worker.alive(), worker.output()
        worker.kill()
        kills += 1
    sent = feeder.stop()
    # one record per partition past every fed window's end + grace closes them all
    time.sleep((SIZE_MS + GRACE_MS) / 1000 + 0.5)
    closers = [key_for_partition(p, PARTITIONS, prefix="closer") for p in range(PARTITIONS)]
    for p, key in enumerate(closers):
        produce(bootstrap, src, [(key, b"{}")], partition=p)
    final = WindowWorker("tumbling_count", env, tmp_path / "worker-final.log")

    inputs = read_all(bootstrap, src, expect=sent + PARTITIONS)
    want = Counter(
        (m.key, m.timestamp // SIZE_MS * SIZE_MS) for m in inputs if m.key not in closers
    )
    got = read_all(bootstrap, out, expect=len(want), timeout=120)
    assert final.terminate() == 0, final.output()
    assert_no_open_transactions(bootstrap, out)
    assert Admin(bootstrap).committed_offsets(app_id, src) == {
        p: n for p, n in Counter(m.partition for m in inputs).items()
    }, "the cut is not all input"

    emitted = Counter((m.key[:-8], int.from_bytes(m.key[-8:], "big")) for m in got if m.key)
    twice = {w: n for w, n in emitted.items() if n > 1}
    assert not twice, f"windows emitted more than once: {list(twice.items())[:5]}"
    counts = {
        (m.key[:-8], int.from_bytes(m.key[-8:], "big")): int.from_bytes(m.value or b"", "big")
        for m in got
        if m.key
    }
    missing = set(want) - set(counts)
    assert not missing, f"{len(missing)} closed windows missing, e.g. {sorted(missing)[:5]}"
    assert set(counts) == set(want), "windows nobody fed"
    wrong = {w: (counts[w], n) for w, n in want.items() if counts[w] != n}
    assert not wrong, f"windows with a wrong count (got, want): {list(wrong.items())[:5]}"
    print(
        f"\n{kills} SIGKILLs ({plan.count('wipe')} restarts on a wiped state dir, "
        f"{plan.count('move')} task move); {sent} inputs; {len(want)} windows, each once"
    )
