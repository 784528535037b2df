"""Exactly-once under SIGKILL: kills land inside open transactions; restarts fence the
crashed predecessor; a read_committed consumer sees every input exactly once, in order."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from support import (
    FAST_GROUP,
    InputFeeder,
    WorkerProcess,
    assert_no_open_transactions,
    by_partition,
    read_all,
    wait_for_progress,
    worker_env,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 3


SESSION_TIMEOUT_S = 6.0  # FAST_GROUP's session.timeout.ms


def _env(
    bootstrap: str, app_id: str, src: str, out: str, state: Path, guarantee: str, commit_ms: int
) -> dict[str, str]:
    return worker_env(
        bootstrap,
        app_id,
        src,
        out,
        state,
        commit_ms=commit_ms,
        config=FAST_GROUP,
        GUARANTEE=guarantee,
    )


def run_with_kills(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
    guarantee: str,
    kills: int,
    resumed: list[float] | None = None,
    **extra_env: str,
) -> tuple[str, str, str, int, list[WorkerProcess]]:
    """Run ``kills`` workers one after another, each SIGKILLed mid-transaction; the seconds
    from each restart to its first output are appended to ``resumed``."""
    src = make_topics("in", partitions=PARTITIONS)
    out = make_topics("out", partitions=PARTITIONS)
    app_id = unique("eos")
    env = _env(bootstrap, app_id, src, out, tmp_path / "state", guarantee, commit_ms=1500)
    env.update(extra_env)
    feeder = InputFeeder(bootstrap, src, rate=2000)
    feeder.start()
    rng = random.Random(7)
    workers: list[WorkerProcess] = []
    resumed = [] if resumed is None else resumed
    for i in range(kills):
        worker = WorkerProcess("echo", env, tmp_path / f"worker-{i}.log")
        workers.append(worker)
        started = time.monotonic()
        wait_for_progress(bootstrap, out, worker)
        if i > 0:  # started right after the previous SIGKILL
            resumed.append(time.monotonic() - started)
        # the commit interval is 1.5 s: a kill 0.3-2.5 s after progress lands mid-transaction
        time.sleep(rng.uniform(0.3, 2.5))
        assert worker.alive(), worker.output()
        worker.kill()
    sent = feeder.stop()
    print("\nSIGKILL to resumed output: " + ", ".join(f"{s:.1f} s" for s in resumed))
    final = WorkerProcess("echo", env, tmp_path / "worker-final.log")
    workers.append(final)
    return src, out, app_id, sent, workers


def verify_exactly_once(
    bootstrap: str, src: str, out: str, app_id: str, sent: int, workers: list[WorkerProcess]
) -> None:
    """Per partition the output equals the input in order; nothing else is visible."""
    final = workers[-1]
    outputs = read_all(bootstrap, out, expect=sent, timeout=120)
    assert final.terminate() == 0, final.output()

    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    got = by_partition(outputs)
    aborted = sum(1 for _ in read_all(bootstrap, out, committed=False, idle=1.0)) - len(outputs)
    print(
        f"\n{len(workers) - 1} SIGKILLs; {sent} inputs; {len(outputs)} committed outputs; "
        f"{aborted} aborted records invisible to read_committed"
    )
    assert aborted > 0, "no kill landed inside an open transaction"
    for partition, records in inputs.items():
        expected = [json.loads(m.value or b"")["seq"] for m in records]
        seen = [json.loads(m.value or b"")["seq"] for m in got.get(partition, [])]
        assert seen == expected, f"partition {partition}: output differs from input"
        assert all(json.loads(m.value or b"")["echo"] for m in got.get(partition, []))
    assert len(outputs) == sent
    assert_no_open_transactions(bootstrap, out)
    committed = Admin(bootstrap).committed_offsets(app_id, src)
    assert committed == {p: len(r) for p, r in inputs.items()}


def test_sigkill_inside_transactions_keeps_output_exactly_once(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out, app_id, sent, workers = run_with_kills(
        bootstrap, make_topics, unique, tmp_path, "exactly_once_v2", kills=5
    )
    verify_exactly_once(bootstrap, src, out, app_id, sent, workers)


def test_sigkill_with_static_membership_keeps_output_exactly_once(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """The same check with ``static_membership``: the restarted worker rejoins under its
    stable group.instance.id and takes its partitions back without waiting for the dead
    member's session to expire."""
    resumed: list[float] = []
    src, out, app_id, sent, workers = run_with_kills(
        bootstrap,
        make_topics,
        unique,
        tmp_path,
        "exactly_once_v2",
        kills=5,
        resumed=resumed,
        STATIC="1",
    )
    verify_exactly_once(bootstrap, src, out, app_id, sent, workers)
    # the advertised takeover: output resumes before the dead member's 6 s session expires
    assert max(resumed) < SESSION_TIMEOUT_S, f"takeovers took {resumed} s"
