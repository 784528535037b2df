"""PendingTasks: an assigned task stays paused while its stores open (backing off on a lock
held elsewhere) and restore; it starts, and its partitions resume, only once every store
reached its changelog's end; revocation closes the stores of a task still restoring."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from confluent_kafka import TopicPartition

from streamlet.errors import StoreLockedError
from streamlet.runtime.restore import RestoreTarget
from streamlet.runtime.restoring import PendingTasks


class _Consumer:
    def __init__(self) -> None:
        self.paused: set[tuple[str, int]] = set()

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}


class _Replay:
    """Finishes what the test puts in ``ready`` at the next step."""

    def __init__(self) -> None:
        self.restoring: list[RestoreTarget] = []
        self.ready: list[tuple[RestoreTarget, int]] = []
        self.steps = 0
        self.slices: list[float] = []

    def add(self, targets: list[RestoreTarget]) -> None:
        self.restoring += targets

    def remove(self, targets: list[RestoreTarget]) -> None:
        self.restoring = [t for t in self.restoring if t not in targets]

    def step(self, slice_s: float) -> list[tuple[RestoreTarget, int]]:
        self.steps += 1
        self.slices.append(slice_s)
        done, self.ready = self.ready, []
        return done


class _Store:
    closed = False

    def close(self) -> None:
        self.closed = True


class _World:
    """PendingTasks wired to fakes: stores ``counts`` (changelogged) and ``cache`` (not)."""

    def __init__(self, locked_tries: int = 0) -> None:
        self.now = 0.0
        self.consumer = _Consumer()
        self.replay = _Replay()
        self.locked_tries = locked_tries
        self.opened: list[RestoreTarget] = []
        self.ends: list[tuple[str, int, int]] = []
        self.started: list[str] = []
        sub = cast(Any, SimpleNamespace(id=0))
        self.pending = PendingTasks(
            self.consumer,
            self.replay,
            {"in": sub, "other": sub},
            self._open,
            self._start,
            lambda topic, partition, end: self.ends.append((topic, partition, end)),
            clock=lambda: self.now,
        )

    def _open(self, task_id: str, _sub: Any, partition: int) -> list[RestoreTarget]:
        if self.locked_tries > 0:
            self.locked_tries -= 1
            raise StoreLockedError(f"store of {task_id} locked by pid 1")
        targets = [
            RestoreTarget("counts", "app-counts-changelog", partition, _Store(), _Store),
            RestoreTarget("cache", "", partition, _Store(), _Store),
        ]
        self.opened += targets
        return targets

    def _start(self, _sub: Any, partition: int, targets: list[RestoreTarget]) -> Any:
        self.started.append(f"0_{partition}")
        return SimpleNamespace(task_id=f"0_{partition}", stores=[t.store for t in targets])


def test_assigned_task_starts_and_resumes_when_restored() -> None:
    world = _World()
    world.pending.assign([TopicPartition("in", 1), TopicPartition("other", 1)])
    assert world.consumer.paused == {("in", 1), ("other", 1)}

    assert world.pending.step(running=False) == []  # stores open, the changelogged one restoring
    assert [t.store for t in world.replay.restoring] == ["counts"]
    assert world.consumer.paused == {("in", 1), ("other", 1)} and "0_1" in world.pending

    world.replay.ready = [(world.replay.restoring[0], 42)]
    [(task, partitions)] = world.pending.step(running=False)

    assert task.task_id == "0_1" and cast(Any, task).stores == ["counts", "cache"]
    assert [(tp.topic, tp.partition) for tp in partitions] == [("in", 1), ("other", 1)]
    assert world.ends == [("app-counts-changelog", 1, 42)]
    assert world.consumer.paused == set() and not world.pending


def test_locked_store_waits_paused_with_backoff_then_starts() -> None:
    world = _World(locked_tries=2)
    world.pending.assign([TopicPartition("in", 0)])

    world.pending.step(running=False)  # locked: waits 0.1 s
    world.now = 0.05
    world.pending.step(running=False)  # not due yet: no attempt
    assert world.locked_tries == 1 and world.opened == []
    world.now = 0.1
    world.pending.step(running=False)  # locked again: waits 0.2 s
    world.now = 0.35
    assert world.pending.step(running=False) == []  # opened; restoring
    assert world.consumer.paused == {("in", 0)} and world.started == []

    world.replay.ready = [(world.replay.restoring[0], 7)]
    assert [t.task_id for t, _ in world.pending.step(running=False)] == ["0_0"]
    assert world.consumer.paused == set()


def test_close_while_restoring_closes_stores_and_stops_replay() -> None:
    world = _World()
    world.pending.assign([TopicPartition("in", 0), TopicPartition("in", 1)])
    world.pending.step(running=False)
    assert len(world.replay.restoring) == 2

    world.pending.close()

    assert world.replay.restoring == [] and not world.pending
    assert all(t.buffered.closed for t in world.opened) and len(world.opened) == 4
    assert world.pending.partitions() == [] and world.started == []


def test_partitions_lists_inputs_of_every_pending_task() -> None:
    world = _World(locked_tries=1)
    world.pending.assign([TopicPartition("in", 0), TopicPartition("other", 0)])
    world.pending.assign([TopicPartition("in", 3)])
    world.pending.step(running=False)  # 0_0 waits for its lock, 0_3 restores

    got = {(tp.topic, tp.partition) for tp in world.pending.partitions()}
    assert got == {("in", 0), ("other", 0), ("in", 3)}


def test_step_slices_are_shorter_while_other_tasks_run() -> None:
    world = _World()
    world.pending.assign([TopicPartition("in", 0)])

    world.pending.step(running=True)
    world.pending.step(running=False)

    running, alone = world.replay.slices
    # both far below the smallest max.poll.interval.ms a group allows (6 s session timeout)
    assert running < alone < 6.0
