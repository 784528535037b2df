"""After Kafka's own application reset tool (StreamsResetter: input offsets back to the
earliest, internal topics deleted; the app recreates them) a restart on the kept state dir
wipes the stores whose changelog was recreated, restores them and reprocesses from scratch
(issue 10, defect 6)."""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin

from apps_state import StateWorker
from support import FAST_GROUP, ROOT, produce, read_all, worker_env

pytestmark = pytest.mark.integration

KEYS = 5
N = 100


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


def _counts_per_key(bootstrap: str, topic: str, expect: int) -> dict[bytes, list[int]]:
    out: dict[bytes, list[int]] = defaultdict(list)
    msgs = read_all(bootstrap, topic, expect=expect, timeout=90)
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        assert m.key is not None
        out[m.key].append(_i64(m.value))
    return out


def reset_application(bootstrap: str, app_id: str, src: str) -> None:
    """Run Kafka's StreamsResetter from the broker jars scripts/setup installs."""
    done = subprocess.run(
        [
            "java",
            "-cp",
            str(ROOT / ".kafka" / "lib" / "*"),
            "org.apache.kafka.tools.StreamsResetter",
            "--bootstrap-server",
            bootstrap,
            "--application-id",
            app_id,
            "--input-topics",
            src,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-changelog" in done.stdout, done.stdout  # it found and deleted the changelogs


def test_restart_after_reset_tool_reprocesses_from_scratch(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src = make_topics("in", partitions=2)
    out = unique("out")
    admin = Admin(bootstrap)
    for suffix in ("counts", "sums"):
        admin.ensure_topic(f"{out}-{suffix}", 2, {})
    app_id = unique("reset")
    env = worker_env(
        bootstrap, app_id, src, out, tmp_path / "state", commit_ms=200, config=FAST_GROUP
    )
    produce(bootstrap, src, [(f"k{i % KEYS}".encode(), b'{"value": 1}') for i in range(N)])
    worker = StateWorker("count_sum", env, tmp_path / "worker-1.log")
    first = _counts_per_key(bootstrap, f"{out}-counts", N)
    assert worker.terminate() == 0, worker.output()
    assert all(v == list(range(1, N // KEYS + 1)) for v in first.values()), first

    reset_application(bootstrap, app_id, src)
    changelogs = [f"{app_id}-{store}-changelog" for store in ("counts", "sums")]
    deadline = time.monotonic() + 60
    while any(info is not None for info in admin.describe(changelogs).values()):
        assert time.monotonic() < deadline, "the reset tool's topic deletion never finished"
        time.sleep(0.2)

    worker = StateWorker("count_sum", env, tmp_path / "worker-2.log")  # the kept state dir
    both = _counts_per_key(bootstrap, f"{out}-counts", 2 * N)
    assert worker.alive(), worker.output()
    assert worker.terminate() == 0, worker.output()
    expected = list(range(1, N // KEYS + 1)) * 2
    assert {k: v for k, v in both.items()} == {k: expected for k in first}
