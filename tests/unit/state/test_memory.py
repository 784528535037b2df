"""MemoryStore: the BytesStore contract, unit by unit and as a stateful model check."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from streamlet.errors import StateError
from streamlet.state import BytesStore, MemoryStore

# A tiny alphabet (with 0x00 and 0xff edges) so keys, bounds and prefixes collide often.
KEYS = st.lists(st.sampled_from([0x00, 0x01, 0x7F, 0xFF]), max_size=3).map(bytes)
VALUES = st.binary(max_size=4)
OFFSETS = st.none() | st.integers(min_value=0, max_value=2**63 - 1)


def _between(
    model: dict[bytes, bytes], start: bytes | None, end: bytes | None
) -> list[tuple[bytes, bytes]]:
    return sorted(
        (k, v)
        for k, v in model.items()
        if (start is None or k >= start) and (end is None or k < end)
    )


class MemoryStoreMachine(RuleBasedStateMachine):
    """MemoryStore against a dict plus the last recorded offset."""

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore("model")
        self.model: dict[bytes, bytes] = {}
        self.offset: int | None = None

    @rule(key=KEYS, value=VALUES)
    def put(self, key: bytes, value: bytes) -> None:
        self.store.write_batch({key: value}, None)
        self.model[key] = value

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        self.store.write_batch({key: None}, None)
        self.model.pop(key, None)

    @rule(writes=st.dictionaries(KEYS, st.none() | VALUES, max_size=5), offset=OFFSETS)
    def write_batch(self, writes: dict[bytes, bytes | None], offset: int | None) -> None:
        self.store.write_batch(writes, offset)
        for key, value in writes.items():
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value
        if offset is not None:
            self.offset = offset

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        assert self.store.get(key) == self.model.get(key)

    @rule(start=st.none() | KEYS, end=st.none() | KEYS)
    def range(self, start: bytes | None, end: bytes | None) -> None:
        assert list(self.store.range(start, end)) == _between(self.model, start, end)

    @rule(prefix=KEYS)
    def prefix(self, prefix: bytes) -> None:
        expected = sorted((k, v) for k, v in self.model.items() if k.startswith(prefix))
        assert list(self.store.prefix(prefix)) == expected

    @invariant()
    def count_and_offset_match(self) -> None:
        assert self.store.approximate_count() == len(self.model)
        assert self.store.changelog_offset() == self.offset


def test_operations_match_dict_model() -> None:
    run_state_machine_as_test(
        MemoryStoreMachine,
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None),
    )


def test_store_satisfies_bytes_store_protocol() -> None:
    store: BytesStore = MemoryStore("s")
    assert store.name == "s"


def test_changelog_offset_is_none_when_never_written() -> None:
    assert MemoryStore("s").changelog_offset() is None


def test_write_batch_keeps_offset_when_batch_has_none() -> None:
    store = MemoryStore("s")
    store.write_batch({b"a": b"1"}, 7)
    store.write_batch({b"b": b"2"}, None)
    assert store.changelog_offset() == 7


def test_get_returns_empty_value_for_empty_key() -> None:
    store = MemoryStore("s")
    store.write_batch({b"": b""}, None)
    assert store.get(b"") == b""
    assert list(store.range()) == [(b"", b"")]


def test_range_is_snapshot_when_written_during_iteration() -> None:
    store = MemoryStore("s")
    store.write_batch({b"a": b"1", b"b": b"2"}, None)
    iterator = store.range()
    store.write_batch({b"a": None, b"c": b"3"}, None)
    assert list(iterator) == [(b"a", b"1"), (b"b", b"2")]


def test_range_yields_nothing_when_start_not_below_end() -> None:
    store = MemoryStore("s")
    store.write_batch({b"a": b"1"}, None)
    assert list(store.range(b"b", b"a")) == []
    assert list(store.range(b"a", b"a")) == []


def test_prefix_includes_keys_when_prefix_is_all_ff() -> None:
    store = MemoryStore("s")
    store.write_batch({b"\xff": b"1", b"\xff\xff\x00": b"2", b"\xfe": b"3"}, None)
    assert [k for k, _ in store.prefix(b"\xff")] == [b"\xff", b"\xff\xff\x00"]


def test_write_batch_applies_nothing_when_a_write_is_invalid() -> None:
    store = MemoryStore("s")
    with pytest.raises(StateError):
        store.write_batch({b"a": b"1", "b": b"2"}, 3)  # type: ignore[dict-item]
    assert store.get(b"a") is None
    assert store.changelog_offset() is None


def test_methods_raise_state_error_when_closed() -> None:
    store = MemoryStore("s")
    store.close()
    store.close()
    with pytest.raises(StateError, match="closed"):
        store.get(b"a")
    with pytest.raises(StateError, match="closed"):
        store.write_batch({}, 1)
