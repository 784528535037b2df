"""BufferedStore: read-your-writes over a backend, flush/discard, and a stateful model check."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from streamlet.errors import StateError
from streamlet.state import BufferedStore, BytesStore, MemoryStore, RocksDBOptions, RocksDBStore

KEYS = st.lists(st.sampled_from([0x00, 0x01, 0x7F, 0xFF]), max_size=3).map(bytes)
VALUES = st.binary(max_size=4)
OFFSETS = st.none() | st.integers(min_value=0, max_value=2**40)
SMALL = RocksDBOptions(write_buffer_size=1024 * 1024, block_cache_size=1024 * 1024)


class _BufferedMachine(RuleBasedStateMachine):
    """A BufferedStore against a committed dict and a pending dict (None = delete)."""

    exact_count = True

    def __init__(self) -> None:
        super().__init__()
        self.buffered = BufferedStore(self.open_backend())
        self.committed: dict[bytes, bytes] = {}
        self.pending: dict[bytes, bytes | None] = {}
        self.offset: int | None = None

    def open_backend(self) -> BytesStore:
        raise NotImplementedError

    def teardown(self) -> None:
        self.buffered.close()

    def visible(self) -> dict[bytes, bytes]:
        merged = dict(self.committed)
        for key, value in self.pending.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    @rule(key=KEYS, value=VALUES)
    def put(self, key: bytes, value: bytes) -> None:
        self.buffered.put(key, value)
        self.pending[key] = value

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        self.buffered.delete(key)
        self.pending[key] = None

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        assert self.buffered.get(key) == self.visible().get(key)

    @rule(start=st.none() | KEYS, end=st.none() | KEYS)
    def range(self, start: bytes | None, end: bytes | None) -> None:
        expected = sorted(
            (k, v)
            for k, v in self.visible().items()
            if (start is None or k >= start) and (end is None or k < end)
        )
        assert list(self.buffered.range(start, end)) == expected

    @rule(prefix=KEYS)
    def prefix(self, prefix: bytes) -> None:
        expected = sorted((k, v) for k, v in self.visible().items() if k.startswith(prefix))
        assert list(self.buffered.prefix(prefix)) == expected

    @rule()
    def all(self) -> None:
        assert list(self.buffered.all()) == sorted(self.visible().items())

    @rule(offset=OFFSETS)
    def flush(self, offset: int | None) -> None:
        self.buffered.flush(offset)
        self.committed = self.visible()
        self.pending = {}
        if offset is not None:
            self.offset = offset

    @rule()
    def discard(self) -> None:
        self.buffered.discard()
        self.pending = {}

    @precondition(lambda self: not self.pending)
    @rule(writes=st.dictionaries(KEYS, st.none() | VALUES, max_size=4), offset=OFFSETS)
    def apply_restored(self, writes: dict[bytes, bytes | None], offset: int | None) -> None:
        self.pending = dict(writes)
        self.committed = self.visible()
        self.pending = {}
        self.buffered.apply_restored(writes, 0 if offset is None else offset)
        self.offset = 0 if offset is None else offset

    @invariant()
    def pending_and_backend_match_model(self) -> None:
        assert list(self.buffered.pending().items()) == list(self.pending.items())
        assert self.buffered.has_pending() == bool(self.pending)
        backend = self.buffered.backend
        assert list(backend.range()) == sorted(self.committed.items())
        assert backend.changelog_offset() == self.offset
        assert self.buffered.changelog_offset() == self.offset
        if self.exact_count:
            assert self.buffered.approximate_count() == len(self.visible())


class _OverMemory(_BufferedMachine):
    def open_backend(self) -> BytesStore:
        return MemoryStore("model")


class _OverRocksDB(_BufferedMachine):
    exact_count = False

    def open_backend(self) -> BytesStore:
        self.directory = Path(tempfile.mkdtemp(prefix="streamlet-buffered-"))
        return RocksDBStore(self.directory / "store", "model", SMALL)

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.mark.parametrize(
    ("machine", "examples"), [(_OverMemory, 60), (_OverRocksDB, 25)], ids=["memory", "rocksdb"]
)
def test_operations_match_committed_and_pending_model(
    machine: type[_BufferedMachine], examples: int
) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=examples, stateful_step_count=30, deadline=None),
    )


class _RecordingStore(MemoryStore):
    """A MemoryStore that records batches and counts the range items it hands out."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__("rec")
        self.batches: list[tuple[dict[bytes, bytes | None], int | None]] = []
        self.yielded = 0
        self.fail = fail

    def write_batch(
        self, writes: Mapping[bytes, bytes | None], changelog_offset: int | None
    ) -> None:
        if self.fail:
            raise StateError("disk full")
        self.batches.append((dict(writes), changelog_offset))
        super().write_batch(writes, changelog_offset)

    def range(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._counted(super().range(start, end))

    def _counted(self, items: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
        for item in items:
            self.yielded += 1
            yield item


def _store(
    contents: dict[bytes, bytes | None] | None = None,
) -> tuple[BufferedStore, _RecordingStore]:
    backend = _RecordingStore()
    if contents:
        backend.write_batch(contents, None)
        backend.batches.clear()
    return BufferedStore(backend), backend


def test_get_sees_pending_put_when_not_flushed() -> None:
    store, backend = _store({b"a": b"old"})
    store.put(b"a", b"new")
    assert store.get(b"a") == b"new"
    assert backend.get(b"a") == b"old"


def test_range_hides_backend_key_when_delete_pending() -> None:
    store, _ = _store({b"a": b"1", b"b": b"2", b"c": b"3"})
    store.delete(b"b")
    store.put(b"bb", b"x")
    assert list(store.range()) == [(b"a", b"1"), (b"bb", b"x"), (b"c", b"3")]
    assert store.get(b"b") is None


def test_flush_writes_one_batch_with_offset_then_clears() -> None:
    store, backend = _store()
    store.put(b"a", b"1")
    store.put(b"b", b"2")
    store.delete(b"a")
    store.flush(17)
    assert backend.batches == [({b"a": None, b"b": b"2"}, 17)]
    assert not store.has_pending()
    assert store.changelog_offset() == 17


def test_flush_records_offset_when_nothing_pending() -> None:
    store, backend = _store()
    store.flush(3)
    store.flush(None)
    assert backend.batches == [({}, 3)]


def test_flush_keeps_pending_when_backend_fails() -> None:
    backend = _RecordingStore(fail=True)
    store = BufferedStore(backend)
    store.put(b"a", b"1")
    with pytest.raises(StateError, match="disk full"):
        store.flush(1)
    assert dict(store.pending()) == {b"a": b"1"}


def test_pending_coalesces_to_last_write_in_first_write_order() -> None:
    store, _ = _store()
    store.put(b"b", b"1")
    store.put(b"a", b"2")
    store.delete(b"b")
    store.put(b"a", b"3")
    assert list(store.pending().items()) == [(b"b", None), (b"a", b"3")]


def test_discard_drops_pending_writes() -> None:
    store, backend = _store({b"a": b"1"})
    store.delete(b"a")
    store.discard()
    assert store.get(b"a") == b"1"
    assert not store.has_pending()
    assert backend.batches == []


def test_apply_restored_raises_when_writes_pending() -> None:
    store, _ = _store()
    store.put(b"a", b"1")
    with pytest.raises(StateError, match="pending"):
        store.apply_restored({b"b": b"2"}, 5)


def test_range_is_snapshot_when_written_during_iteration() -> None:
    store, _ = _store({b"a": b"1", b"c": b"3"})
    store.put(b"b", b"2")
    iterator = store.range()
    assert next(iterator) == (b"a", b"1")
    store.delete(b"b")
    store.put(b"d", b"4")
    store.flush(1)
    assert list(iterator) == [(b"b", b"2"), (b"c", b"3")]


def test_range_streams_backend_when_merging_pending() -> None:
    store, backend = _store({bytes([i]): b"v" for i in range(100)})
    store.put(b"\x00\x01", b"p")
    iterator = store.range()
    assert [next(iterator) for _ in range(3)] == [
        (b"\x00", b"v"),
        (b"\x00\x01", b"p"),
        (b"\x01", b"v"),
    ]
    assert backend.yielded <= 3


def test_approximate_count_counts_pending_writes() -> None:
    store, _ = _store({b"a": b"1", b"b": b"2"})
    store.delete(b"a")
    store.delete(b"zz")
    store.put(b"c", b"3")
    store.put(b"b", b"22")
    assert store.approximate_count() == 2


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.put("a", b"1"),
        lambda s: s.put(b"a", "1"),
        lambda s: s.put(b"a", None),
        lambda s: s.delete("a"),
    ],
)
def test_write_raises_state_error_when_not_bytes(write: Callable[[BufferedStore], None]) -> None:
    store, _ = _store()
    with pytest.raises(StateError, match="bytes"):
        write(store)
    assert not store.has_pending()


def test_put_raises_state_error_when_closed() -> None:
    store, backend = _store()
    store.put(b"a", b"1")
    store.close()
    with pytest.raises(StateError, match="closed"):
        store.put(b"a", b"1")
    with pytest.raises(StateError, match="closed"):
        backend.get(b"a")
