"""Tasks moving between two workers while input flows: state is correct after every move.

Two workers (separate state dirs) run a running count and a running sum per key over four
input partitions. Twice: B stops gracefully, so its tasks move to A, which restores them
from the changelog; then B restarts on its kept state dir, so they move back and B restores
only what A wrote meanwhile, from the changelog offsets its stores recorded. After every
move, once the new owner has processed input produced after it: for every key the j-th
count and sum equal the fold of that key's first j inputs, every input below the group's
committed offsets has its outputs, and every transaction open at that moment completes.
At the end: the same, exactly and for all input; no transaction is open; the committed
offsets are all the input; the stores of the last owners hold each key's final aggregates.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from streamlet.kafka.admin import Admin
from streamlet.state import RocksDBStore

from apps_state import StateWorker
from support import (
    FAST_GROUP,
    Msg,
    RandomFeeder,
    WorkerProcess,
    assert_no_open_transactions,
    worker_env,
)

pytestmark = pytest.mark.chaos

PARTITIONS = 4
STORES = ("counts", "sums")
_RESTORED = re.compile(
    r"streamlet\.runtime\.restore: restored \d+ records \((\d+) distinct-key writes\) in"
)
_RESTORING = re.compile(r"restoring (\d+) store partitions, up to (\d+) changelog records")


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


def read_upto(
    bootstrap: str,
    topic: str,
    ends: dict[int, int],
    *,
    committed: bool = True,
    timeout: float = 60.0,
) -> list[Msg]:
    """The records of ``topic`` at offsets below ``ends[p]`` (all of them, when ``ends`` is
    at or below the partition's end: read_committed, only once the LSO has reached it)."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed" if committed else "read_uncommitted",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    todo = {p for p, end in ends.items() if end > 0}
    c.assign([TopicPartition(topic, p, 0) for p in todo])
    out: list[Msg] = []
    deadline = time.monotonic() + timeout
    try:
        while todo:
            assert time.monotonic() < deadline, f"{topic}: could not read up to {ends}"
            for m in c.consume(num_messages=10000, timeout=0.2):
                p, offset, err = m.partition() or 0, m.offset() or 0, m.error()
                if p not in todo:
                    continue
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err
                    if offset >= ends[p]:
                        todo.discard(p)
                    continue
                if offset < ends[p]:
                    out.append(Msg(p, offset, m.key(), m.value(), m.timestamp()[1], ()))
                if offset >= ends[p] - 1:
                    todo.discard(p)
    finally:
        c.close()
    return out


def _per_key(msgs: Iterable[Msg]) -> dict[bytes | None, list[Msg]]:
    out: dict[bytes | None, list[Msg]] = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        out.setdefault(m.key, []).append(m)
    return out


def _folds(values: list[int]) -> dict[str, list[int]]:
    counts, sums, total = [], [], 0
    for i, v in enumerate(values, 1):
        total += v
        counts.append(i)
        sums.append(total)
    return {"counts": counts, "sums": sums}


def check_state(
    bootstrap: str, app_id: str, src: str, out: str, *, final: bool = False
) -> tuple[int, int]:
    """The fold check, on a consistent cut; returns (inputs read, inputs committed)."""
    admin = Admin(bootstrap)
    committed = admin.committed_offsets(app_id, src)  # first: its outputs are below `marks`
    topics = [f"{out}-{s}" for s in STORES] + [f"{app_id}-{s}-changelog" for s in STORES]
    marks = {t: admin.end_offsets(t, committed_only=False) for t in topics}
    # every transaction open now must complete (commit or abort) soon: nothing hangs
    deadline = time.monotonic() + 30
    for t in topics:
        while any(
            lso < marks[t][p] for p, lso in admin.end_offsets(t, committed_only=True).items()
        ):
            assert time.monotonic() < deadline, f"a transaction on {t} stays open"
            time.sleep(0.1)
    outputs = {s: _per_key(read_upto(bootstrap, f"{out}-{s}", marks[f"{out}-{s}"])) for s in STORES}
    inputs = _per_key(
        read_upto(bootstrap, src, admin.end_offsets(src, committed_only=False), committed=False)
    )
    n_inputs = sum(len(ms) for ms in inputs.values())
    n_committed = 0
    for key, ms in inputs.items():
        expected = _folds([json.loads(m.value or b"")["value"] for m in ms])
        must = sum(1 for m in ms if m.offset < committed.get(m.partition, 0))
        n_committed += must
        for s in STORES:
            seen = [_i64(m.value) for m in outputs[s].get(key, [])]
            assert seen == expected[s][: len(seen)], f"{s} of {key!r}: not the fold of its inputs"
            assert len(seen) >= must, (
                f"{s} of {key!r}: {len(seen)} outputs, but {must} inputs are committed"
            )
            if final:
                assert len(seen) == len(ms), f"{s} of {key!r}: {len(seen)} outputs, {len(ms)} in"
    for s in STORES:
        assert set(outputs[s]) <= set(inputs), f"{s}: output for a key never input"
    return n_inputs, n_committed


def wait_consumed(bootstrap: str, app_id: str, src: str, timeout: float = 60.0) -> None:
    """Until the group's committed offsets reach the input's end as of now, everywhere."""
    admin = Admin(bootstrap)
    target = admin.end_offsets(src, committed_only=False)
    deadline = time.monotonic() + timeout
    while True:
        committed = admin.committed_offsets(app_id, src)
        if all(committed.get(p, 0) >= end for p, end in target.items()):
            return
        assert time.monotonic() < deadline, f"not consumed: committed {committed}, end {target}"
        time.sleep(0.2)


def wait_worked(
    bootstrap: str, app_id: str, src: str, partitions: set[int], worker: WorkerProcess
) -> None:
    """Until ``worker`` committed another 300 inputs of ``partitions`` (its own tasks)."""
    admin = Admin(bootstrap)
    start = admin.committed_offsets(app_id, src)
    deadline = time.monotonic() + 60
    while True:
        now = admin.committed_offsets(app_id, src)
        if sum(now.get(p, 0) - start.get(p, 0) for p in partitions) >= 300:
            return
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"no progress on {partitions}: {start} -> {now}"
        time.sleep(0.1)


def wait_written(
    bootstrap: str, offsets: dict[tuple[str, int], int], writers: dict[str, WorkerProcess]
) -> None:
    """Until every changelog partition in ``offsets`` has committed records past the offset
    given (``writers[changelog]`` is the worker writing them)."""
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 60
    for (store, p), offset in offsets.items():
        changelog = next(t for t in writers if t.endswith(f"-{store}-changelog"))
        while admin.end_offsets(changelog, committed_only=True)[p] <= offset:
            assert writers[changelog].alive(), writers[changelog].output()
            assert time.monotonic() < deadline, f"no writes to {changelog}[{p}] past {offset}"
            time.sleep(0.1)


def assignment(worker: WorkerProcess) -> set[int] | None:
    """The partitions of the worker's last "assigned" log line, or None before the first."""
    current = None
    for line in worker.output().splitlines():
        if "streamlet.runtime.worker: assigned " in line:
            current = {int(p) for p in re.findall(r"\[(\d+)\]", line.split(" assigned ", 1)[1])}
        elif "streamlet.runtime.worker: revoked " in line:
            current = set()
    return current


def wait_assigned(workers: dict[str, WorkerProcess], want: dict[str, set[int] | None]) -> None:
    """Until each worker's assignment is ``want[name]`` (None: any non-empty set), and
    together they own every partition."""
    deadline = time.monotonic() + 60
    while True:
        got = {name: assignment(w) or set() for name, w in workers.items()}
        if all(
            (got[n] == want[n]) if want[n] is not None else bool(got[n]) for n in workers
        ) and set().union(*got.values()) == set(range(PARTITIONS)):
            return
        for name, w in workers.items():
            assert w.alive(), f"worker {name} died:\n{w.output()}"
        assert time.monotonic() < deadline, f"assignments {got}, wanted {want}"
        time.sleep(0.1)


def restored(worker: WorkerProcess) -> list[int]:
    return [int(n) for n in _RESTORED.findall(worker.output())]


def wait_restored(worker: WorkerProcess, before: int, timeout: float = 60.0) -> int:
    """The record count of the worker's first restoration after its ``before``-th."""
    deadline = time.monotonic() + timeout
    while len(counts := restored(worker)) <= before:
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, "no restoration logged:\n" + worker.output()
        time.sleep(0.1)
    return counts[before]


def recorded_offsets(app_dir: Path, partitions: set[int]) -> dict[tuple[str, int], int]:
    """The changelog offset each (stopped) store of ``partitions`` recorded on disk."""
    out = {}
    for p in sorted(partitions):
        for s in STORES:
            store = RocksDBStore(app_dir / f"0_{p}" / s, s)
            try:
                offset = store.changelog_offset()
            finally:
                store.close()
            assert offset is not None, f"store {s} of task 0_{p} recorded no offset"
            out[(s, p)] = offset
    return out


def test_state_is_correct_after_every_task_move(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    src = make_topics("in", partitions=PARTITIONS)
    out = unique("out")
    admin = Admin(bootstrap)
    for s in STORES:
        admin.ensure_topic(f"{out}-{s}", PARTITIONS, {})
    app_id = unique("moves")
    changelogs = [f"{app_id}-{s}-changelog" for s in STORES]

    def env(name: str) -> dict[str, str]:
        # client.id orders the members, so the range assignor gives a the low partitions and
        # b the high ones on every rebalance: b gets back the very tasks whose state it kept
        config = f"{FAST_GROUP},client.id=moves-{name}"
        state = tmp_path / name
        return worker_env(bootstrap, app_id, src, out, state, commit_ms=1000, config=config)

    def start(name: str, i: int) -> WorkerProcess:
        return StateWorker("count_sum", env(name), tmp_path / f"{name}-{i}.log")

    feeder = RandomFeeder(bootstrap, src, rate=800, seed=5)
    feeder.start()
    a = start("a", 0)
    wait_assigned({"a": a}, {"a": set(range(PARTITIONS))})
    wait_consumed(bootstrap, app_id, src)  # a has owned (and has state for) every task
    b = start("b", 0)
    wait_assigned({"a": a, "b": b}, {"a": None, "b": None})
    b_tasks = assignment(b) or set()
    wait_consumed(bootstrap, app_id, src)
    check_state(bootstrap, app_id, src, out)
    notes = []
    for move in (1, 2):
        wait_worked(bootstrap, app_id, src, b_tasks, b)  # b works on its tasks for a while

        # b leaves: its tasks move to a, which restores them from the changelog
        a_restores = len(restored(a))
        assert b.terminate(timeout=30) == 0, b.output()
        wait_assigned({"a": a}, {"a": set(range(PARTITIONS))})
        a_restored = wait_restored(a, a_restores)
        wait_consumed(bootstrap, app_id, src)
        read, committed = check_state(bootstrap, app_id, src, out)
        notes.append(
            f"move {move}a (b left): a restored {a_restored} records; "
            f"{committed}/{read} inputs committed, fold checked"
        )
        assert a_restored > 0, a.output()

        # b comes back on its kept state: the tasks move back; b replays only a's writes
        offsets = recorded_offsets(tmp_path / "b" / app_id, b_tasks)
        wait_written(bootstrap, offsets, {t: a for t in changelogs})  # a's writes to replay
        before = {t: admin.end_offsets(t, committed_only=True) for t in changelogs}
        b = start("b", move)
        wait_assigned({"a": a, "b": b}, {"a": None, "b": b_tasks})
        b_restored = wait_restored(b, 0)
        after = {t: admin.end_offsets(t, committed_only=False) for t in changelogs}
        # the restore consumer read each of b's store partitions from its recorded offset
        found = _RESTORING.search(b.output())
        assert found is not None, b.output()
        span = int(found.group(2))
        low = sum(before[f"{app_id}-{s}-changelog"][p] - o for (s, p), o in offsets.items())
        high = sum(after[f"{app_id}-{s}-changelog"][p] - o for (s, p), o in offsets.items())
        assert low <= span <= high, (
            f"b restored offsets [{span}] not from its recorded offsets ({low}..{high})"
        )
        # a full restore would replay every committed changelog record of b's partitions
        full = sum(
            len(read_upto(bootstrap, t, {p: before[t][p] for p in b_tasks})) for t in changelogs
        )
        assert 0 < b_restored < full, (b_restored, full)
        wait_consumed(bootstrap, app_id, src)
        read, committed = check_state(bootstrap, app_id, src, out)
        notes.append(
            f"move {move}b (b back): b replayed {span} changelog offsets from its "
            f"recorded ones, applying {b_restored} writes; a full restore would replay "
            f">= {full} records; {committed}/{read} inputs committed"
        )

    sent = feeder.stop()
    wait_consumed(bootstrap, app_id, src)
    assert a.terminate(timeout=30) == 0, a.output()
    assert b.terminate(timeout=30) == 0, b.output()
    for t in [f"{out}-{s}" for s in STORES] + changelogs:
        assert_no_open_transactions(bootstrap, t)
    read, committed = check_state(bootstrap, app_id, src, out, final=True)
    assert read == committed == sent
    ends = admin.end_offsets(src, committed_only=False)
    assert admin.committed_offsets(app_id, src) == ends, "the cut is not all input"

    # the last owners' stores on disk hold each key's final count and sum
    inputs = _per_key(read_upto(bootstrap, src, ends, committed=False))
    owners = {p: "b" if p in b_tasks else "a" for p in range(PARTITIONS)}
    for p, owner in owners.items():
        want: dict[str, dict[bytes | None, int]] = {s: {} for s in STORES}
        for key, ms in inputs.items():
            if ms[0].partition == p:
                folds = _folds([json.loads(m.value or b"")["value"] for m in ms])
                for s in STORES:
                    want[s][key] = folds[s][-1]
        for s in STORES:
            store = RocksDBStore(tmp_path / owner / app_id / f"0_{p}" / s, s)
            try:
                got = {k: _i64(v) for k, v in store.range()}
            finally:
                store.close()
            assert got == want[s], f"store {s} of task 0_{p} on {owner}"
    print("\n" + "\n".join(notes) + f"\n{sent} inputs; {time.monotonic() - started:.1f} s")
