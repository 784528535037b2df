"""Restoration advanced a bounded step at a time (the poll loop's share): one step replays
at most its slice, finishes a store partition only at the end offset seen at its start, and
stops reading a partition removed (revoked) meanwhile."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any, cast

from confluent_kafka import TopicPartition

from streamlet.runtime.restore import Restoration, RestoreTarget


class _Admin:
    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self.ends = ends

    def list_offsets(self, request: dict[TopicPartition, Any], **_kw: Any) -> Any:
        out = {}
        for tp in request:
            future: Future[Any] = Future()
            future.set_result(SimpleNamespace(offset=self.ends[(tp.topic, tp.partition)]))
            out[tp] = future
        return out


class _Msg:
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._where = (topic, partition, offset)

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]

    def key(self) -> bytes:
        return b"k%d" % self._where[2]

    def value(self) -> bytes:
        return b"v%d" % self._where[2]


class _Consumer:
    """A changelog of ``ends`` records per partition, handed out ``per_batch`` at a time."""

    def __init__(self, ends: dict[tuple[str, int], int], per_batch: int) -> None:
        self.ends = ends
        self.per_batch = per_batch
        self.positions: dict[tuple[str, int], int] = {}
        self.consumes = 0

    def get_watermark_offsets(self, tp: TopicPartition, **_kw: Any) -> tuple[int, int]:
        return 0, self.ends[(tp.topic, tp.partition)]

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.positions[(tp.topic, tp.partition)] = tp.offset

    def incremental_unassign(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            del self.positions[(tp.topic, tp.partition)]

    def consume(self, num_messages: int, timeout: float) -> list[_Msg]:
        self.consumes += 1
        out: list[_Msg] = []
        for (topic, partition), position in self.positions.items():
            end = min(self.ends[(topic, partition)], position + self.per_batch)
            out += [_Msg(topic, partition, o) for o in range(position, end)]
            self.positions[(topic, partition)] = end
        return out

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.positions[(tp.topic, tp.partition)])
            for tp in partitions
        ]


class _Store:
    def __init__(self, offset: int | None = None) -> None:
        self.data: dict[bytes, bytes | None] = {}
        self.offset = offset

    def changelog_offset(self) -> int | None:
        return self.offset

    def apply_restored(self, writes: dict[bytes, bytes | None], offset: int) -> None:
        self.data.update(writes)
        self.offset = offset


def _restoration(ends: dict[tuple[str, int], int], per_batch: int) -> tuple[Restoration, _Consumer]:
    consumer = _Consumer(ends, per_batch)
    return Restoration(cast(Any, consumer), cast(Any, _Admin(ends))), consumer


def _target(partition: int, store: _Store) -> RestoreTarget:
    return RestoreTarget("s", "cl", partition, store, _Store)


def test_step_replays_one_slice_then_returns() -> None:
    restoration, consumer = _restoration({("cl", 0): 50}, per_batch=10)
    store = _Store()
    target = _target(0, store)
    restoration.add([target])

    steps = 0
    finished: list[tuple[RestoreTarget, int]] = []
    while not finished:
        finished = restoration.step(slice_s=0.0)  # one batch per step
        steps += 1

    assert steps == 5 and consumer.consumes == 5
    assert finished == [(target, 50)] and not restoration
    assert store.offset == 50 and len(store.data) == 50
    assert consumer.positions == {}  # unassigned once done


def test_store_at_its_end_finishes_without_reading() -> None:
    restoration, consumer = _restoration({("cl", 3): 20}, per_batch=10)
    target = _target(3, _Store(offset=20))
    restoration.add([target])

    assert restoration.step() == [(target, 20)]
    assert consumer.consumes == 0 and not restoration


def test_remove_while_reading_stops_that_partition() -> None:
    restoration, consumer = _restoration({("cl", 0): 100, ("cl", 1): 20}, per_batch=10)
    kept, dropped = _target(0, _Store()), _target(1, _Store())
    restoration.add([kept, dropped])
    assert restoration.step(slice_s=0.0) == []

    restoration.remove([dropped])

    assert ("cl", 1) not in consumer.positions
    finished: list[tuple[RestoreTarget, int]] = []
    while restoration:
        finished += restoration.step(slice_s=0.0)
    assert finished == [(kept, 100)]
    assert cast(_Store, dropped.buffered).offset == 10  # a prefix, as applied
