"""Restoration of a 1,000,000-key store on a fresh worker.

1,000,000 records with distinct keys go to a 4-partition input topic; a worker materializes
them as a table under exactly_once_v2 (every key into the store and its changelog). Once the
group's committed offsets cover all input, it stops. A second worker of the same app starts
on a NEW, empty state dir and restores the four store partitions from the changelog; it
stops cleanly, and its RocksDB stores must hold exactly the 1,000,000 keys, each with its
value, and record the changelog's end offset. Prints the restore rate and the disk footprint.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlet.kafka.admin import Admin
from streamlet.state import RocksDBStore

from apps_state import StateWorker
from support import WorkerProcess, assert_no_open_transactions, producer, worker_env

pytestmark = pytest.mark.integration

KEYS = 1_000_000
PARTITIONS = 4
STORE = "big"
_RESTORED = re.compile(
    r"streamlet\.runtime\.restore: restored (\d+) records \(\d+ distinct-key writes\) in "
    r"([\d.]+) s \((\d+) records/s\)"
)
_LOGGED_AT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _key(i: int) -> bytes:
    return b"k%07d" % i


def _value_of(key: bytes) -> bytes:
    return b"v" + key[1:]


def _produce_keys(bootstrap: str, topic: str) -> float:
    p = producer(
        bootstrap,
        **{
            "linger.ms": 50,
            "batch.size": 900_000,
            "batch.num.messages": 100_000,
            "queue.buffering.max.messages": 2_000_000,
            "compression.type": "lz4",
        },
    )
    started = time.monotonic()
    produce = p.produce
    for i in range(KEYS):
        key = _key(i)
        try:
            produce(topic, _value_of(key), key)
        except BufferError:
            p.poll(0.1)
            produce(topic, _value_of(key), key)
    assert p.flush(60) == 0
    return time.monotonic() - started


def _logged_at(worker: WorkerProcess, marker: str) -> float:
    """Epoch seconds of the worker's first log line containing ``marker``."""
    for line in worker.output().splitlines():
        if marker in line and (m := _LOGGED_AT.match(line)):
            stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    raise AssertionError(f"no {marker!r} in the log:\n{worker.output()}")


def _wait(cond: Callable[[], bool], worker: WorkerProcess, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"{what} within {timeout} s:\n{worker.output()[-4000:]}"
        time.sleep(0.2)


def _disk_bytes(path: Path) -> int:
    """``du``: allocated bytes of every file under ``path``."""
    return sum(
        os.stat(os.path.join(d, f)).st_blocks * 512 for d, _, fs in os.walk(path) for f in fs
    )


def test_restore_large_store_on_fresh_worker(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    src = make_topics("in", partitions=PARTITIONS)
    app_id = unique("big")
    changelog = f"{app_id}-{STORE}-changelog"
    admin = Admin(bootstrap)

    def env(state: str) -> dict[str, str]:
        state_dir = tmp_path / state
        return worker_env(bootstrap, app_id, src, "unused", state_dir, commit_ms=1000, STORE=STORE)

    produce_s = _produce_keys(bootstrap, src)
    ends = admin.end_offsets(src, committed_only=False)
    assert sum(ends.values()) == KEYS

    # build: materialize every key (store + changelog) under exactly-once
    builder = StateWorker("table", env("build"), tmp_path / "build.log")
    _wait(
        lambda: admin.committed_offsets(app_id, src) == ends,
        builder,
        150,
        "the builder did not consume all input",
    )
    built_at = time.time()
    build_s = built_at - _logged_at(builder, "streamlet.runtime.worker: assigned")
    assert builder.terminate(timeout=60) == 0, builder.output()
    assert_no_open_transactions(bootstrap, changelog)
    changelog_ends = admin.end_offsets(changelog, committed_only=True)

    # restore: a fresh worker, an empty state dir
    spawned_at = time.monotonic()
    fresh = StateWorker("table", env("fresh"), tmp_path / "fresh.log")
    _wait(
        lambda: _RESTORED.search(fresh.output()) is not None, fresh, 120, "no restoration finished"
    )
    to_restored_s = time.monotonic() - spawned_at
    found = _RESTORED.search(fresh.output())
    assert found is not None
    records, seconds, rate = int(found.group(1)), float(found.group(2)), int(found.group(3))
    assert fresh.terminate(timeout=60) == 0, fresh.output()
    assert records == KEYS, fresh.output()

    # the restored stores: exactly the keys, each with its value, at the changelog's end
    app_dir = tmp_path / "fresh" / app_id
    footprint = 0
    total = 0
    for p in range(PARTITIONS):
        path = app_dir / f"0_{p}" / STORE
        footprint += _disk_bytes(path)
        store = RocksDBStore(path, STORE)
        try:
            assert store.changelog_offset() == changelog_ends[p], f"task 0_{p}"
            n = 0
            for key, value in store.range():
                assert value == _value_of(key), f"task 0_{p}: {key!r} -> {value!r}"
                n += 1
        finally:
            store.close()
        total += n
    assert total == KEYS
    print(
        f"\nproduced {KEYS} distinct keys in {produce_s:.1f} s ({KEYS / produce_s:,.0f}/s); "
        f"table built under exactly_once_v2 in {build_s:.1f} s ({KEYS / build_s:,.0f} records/s)"
        f"\nfresh worker restored {records} records in {seconds:.2f} s ({rate:,} records/s); "
        f"spawn to restored {to_restored_s:.1f} s"
        f"\nRocksDB footprint of the restored store: {footprint / 2**20:.1f} MiB "
        f"({footprint / 2**20 / (KEYS / 1e6):.1f} MiB per million keys)"
        f"\ntotal {time.monotonic() - started:.1f} s"
    )
