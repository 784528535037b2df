"""A windowed store on RocksDB stays bounded over a long stream: expired windows are deleted
as stream time passes retention, so key count and on-disk bytes level off."""

from __future__ import annotations

import contextlib
from pathlib import Path

import streamlet as sl
from streamlet import serde
from streamlet.runtime.task import Task, TaskStore
from streamlet.state import BufferedStore, RocksDBOptions, RocksDBStore
from streamlet.testing import TopologyTestDriver
from streamlet.topology.topology import SubTopology

S = serde.String()
# small memtables so data reaches SST files (and compaction) within the test
_SMALL = RocksDBOptions(write_buffer_size=64 * 1024, target_file_size_base=64 * 1024)


class RocksDBDriver(TopologyTestDriver):
    """The test driver over RocksDB stores in ``directory`` (set before construction)."""

    directory: Path

    def _new_task(self, sub: SubTopology) -> Task:
        stores = {
            name: TaskStore(
                self.topology.stores[name],
                BufferedStore(RocksDBStore(self.directory / name, name, _SMALL)),
            )
            for name in sub.stores
        }
        return Task(
            sub,
            0,
            stores,
            self._produce,
            lambda _topic: 1,
            self.config.errors,
            self.config.dead_letter_topic,
            lambda: None,
            clock=self._clock_ms,
        )


def _disk_bytes(path: Path) -> int:
    total = 0
    for f in path.rglob("*.sst"):
        with contextlib.suppress(FileNotFoundError):  # compaction removed it meanwhile
            total += f.stat().st_size
    return total


def test_window_store_size_stays_flat_over_a_long_stream(tmp_path: Path) -> None:
    app = sl.App("growth")
    (
        app.stream("in", key_serde=S, value_serde=S)
        .group_by_key()
        .windowed_by(sl.TumblingWindows(1_000, grace_ms=200), emit=sl.Emit.ON_WINDOW_CLOSE)
        .reduce(lambda _old, new: new, "latest", value_serde=S)
    )
    RocksDBDriver.directory = tmp_path
    samples: list[tuple[int, int, int, int]] = []  # (records, rows, estimated keys, SST bytes)
    with RocksDBDriver(app) as driver:
        inp = driver.input_topic("in", S, S)
        pad = "x" * 200
        for i in range(20_000):
            inp.pipe(f"key-{i % 100}", pad, timestamp=i * 2)  # 100 keys, 40 windows in all
            if i % 4_000 == 3_999:
                store = driver.store("latest")
                rows = sum(1 for _ in store.all())
                estimate = store.approximate_count()
                samples.append((i + 1, rows, estimate, _disk_bytes(tmp_path)))
    print("\n(records, live windows, RocksDB estimated keys, SST bytes):", samples)
    # retention 1.2 s: at most two windows of 100 keys each are alive at once; without
    # expiry the store would hold every window, 40 windows of 100 keys (0.8 MB) by the end
    assert all(rows <= 200 for _, rows, _, _ in samples), samples
    # RocksDB's estimate and its files count deletes not yet compacted away, and background
    # compaction lags on a loaded machine; they still stay well below the unbounded store
    # (4,000 keys, 0.8 MB)
    assert all(estimate <= 3_000 for _, _, estimate, _ in samples), samples
    assert all(size <= 500_000 for *_, size in samples), samples


def _close_counting_app() -> sl.App:
    app = sl.App("restart")
    (
        app.stream("in", key_serde=S, value_serde=S)
        .group_by_key()
        .windowed_by(sl.TumblingWindows(10, grace_ms=5), emit=sl.Emit.ON_WINDOW_CLOSE)
        .count("agg")
        .to_stream()
        .to("out", key_serde=serde.Windowed(S, 10), value_serde=serde.Int64())
    )
    return app


def test_restart_on_kept_state_resumes_stream_time_and_emits_nothing_twice(
    tmp_path: Path,
) -> None:
    RocksDBDriver.directory = tmp_path
    key_serde = serde.Windowed(S, 10)
    with RocksDBDriver(_close_counting_app()) as first:
        inp = first.input_topic("in", S, S)
        for ts in (1, 2, 12, 20):  # stream time 20 closes [0, 10)
            inp.pipe("a", "x", timestamp=ts)
        assert first.output_topic("out", key_serde, serde.Int64()).read_key_values() == [
            (sl.Windowed("a", 0, 10), 2)
        ]
    # a new task on the same store: its own stream time starts over, the store's does not
    with RocksDBDriver(_close_counting_app()) as second:
        inp = second.input_topic("in", S, S)
        inp.pipe("a", "x", timestamp=3)  # late for [0, 10) at the stored stream time 20
        inp.pipe("a", "x", timestamp=25)  # closes [10, 20) only
        got = second.output_topic("out", key_serde, serde.Int64()).read_key_values()
    assert got == [(sl.Windowed("a", 10, 20), 1)]  # the record at 12
