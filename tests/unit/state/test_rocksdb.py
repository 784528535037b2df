"""RocksDBStore: the BytesStore contract, durability, locking and corruption handling."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from streamlet.errors import ConfigError, StateError
from streamlet.state import BytesStore, RocksDBOptions, RocksDBStore

KEYS = st.lists(st.sampled_from([0x00, 0x01, 0x7F, 0xFF]), max_size=3).map(bytes)
VALUES = st.binary(max_size=4)
OFFSETS = st.none() | st.integers(min_value=0, max_value=2**63 - 1)
SMALL = RocksDBOptions(write_buffer_size=1024 * 1024, block_cache_size=1024 * 1024)
ROOT = Path(__file__).resolve().parents[3]


class RocksDBStoreMachine(RuleBasedStateMachine):
    """RocksDBStore against a dict plus the last offset, across clean close and reopen."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="streamlet-rocks-"))
        self.path = self.directory / "store"
        self.store = RocksDBStore(self.path, "model", SMALL)
        self.model: dict[bytes, bytes] = {}
        self.offset: int | None = None

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)

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

    @rule(key=KEYS, value=VALUES)
    def put(self, key: bytes, value: bytes) -> None:
        self.write_batch({key: value}, None)

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        self.write_batch({key: None}, None)

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        assert self.store.get(key) == self.model.get(key)

    @rule(start=st.none() | KEYS, end=st.none() | KEYS)
    def range(self, start: bytes | None, end: bytes | None) -> None:
        expected = sorted(
            (k, v)
            for k, v in self.model.items()
            if (start is None or k >= start) and (end is None or k < end)
        )
        assert list(self.store.range(start, end)) == expected

    @rule(prefix=KEYS)
    def prefix(self, prefix: bytes) -> None:
        expected = sorted((k, v) for k, v in self.model.items() if k.startswith(prefix))
        assert list(self.store.prefix(prefix)) == expected

    @rule()
    def flush(self) -> None:
        self.store.flush()

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = RocksDBStore(self.path, "model", SMALL)

    @invariant()
    def offset_matches_and_count_is_sane(self) -> None:
        assert self.store.changelog_offset() == self.offset
        assert self.store.approximate_count() >= 0


def test_operations_match_dict_model_across_reopen() -> None:
    run_state_machine_as_test(
        RocksDBStoreMachine,
        settings=settings(max_examples=25, stateful_step_count=25, deadline=None),
    )


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_store_satisfies_bytes_store_protocol(tmp_path: Path) -> None:
    store: BytesStore = RocksDBStore(tmp_path / "s", "s")
    try:
        assert store.name == "s"
        assert store.changelog_offset() is None
    finally:
        store.close()


def test_close_persists_data_and_offset_when_reopened(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    store.write_batch({b"a": b"1", b"b": b""}, 41)
    store.write_batch({b"a": None, b"c": b"3"}, 42)
    store.close()
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        assert list(store.range()) == [(b"b", b""), (b"c", b"3")]
        assert store.changelog_offset() == 42
    finally:
        store.close()


def test_range_never_shows_changelog_offset(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        store.write_batch({}, 7)
        assert list(store.range()) == []
        assert list(store.prefix(b"")) == []
        assert store.get(b"changelog-offset") is None
        assert store.changelog_offset() == 7
    finally:
        store.close()


def test_range_honours_end_when_bound_object_is_temporary(tmp_path: Path) -> None:
    # rocksdict keeps only a pointer to the upper bound's bytes; the store must keep them alive.
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        store.write_batch({b"\x00\x00": b"", b"\x00\x00\x00": b"", b"\x01": b""}, None)
        iterator = store.range(b"\x00", bytes(bytearray([1])))
        scratch = [bytes(bytearray([0])) for _ in range(200)]
        assert list(iterator) == [(b"\x00\x00", b""), (b"\x00\x00\x00", b"")]
        assert len(scratch) == 200
        assert list(store.prefix(b"\x00")) == [(b"\x00\x00", b""), (b"\x00\x00\x00", b"")]
    finally:
        store.close()


def test_open_raises_state_error_when_locked_by_another_process(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        result = _run_python(
            f"""
            from pathlib import Path
            from streamlet.errors import StateError
            from streamlet.state import RocksDBStore
            try:
                RocksDBStore(Path({str(tmp_path / "s")!r}), "s")
            except StateError as exc:
                print("StateError:", exc)
            """
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("StateError:")
        assert str(tmp_path / "s") in result.stdout
    finally:
        store.close()


def test_open_raises_state_error_when_already_open_in_process(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        with pytest.raises(StateError, match="locked"):
            RocksDBStore(tmp_path / "s", "s", SMALL)
    finally:
        store.close()


def test_open_succeeds_when_previous_store_closed(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    iterator = store.range()
    store.close()
    with pytest.raises(StateError, match="closed"):
        next(iterator)
    RocksDBStore(tmp_path / "s", "s", SMALL).close()


def test_flush_persists_both_families_when_process_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "s"
    result = _run_python(
        f"""
        import os, signal
        from pathlib import Path
        from streamlet.state import RocksDBStore
        store = RocksDBStore(Path({str(path)!r}), "s")
        store.write_batch({{b"a": b"1", b"b": b"2"}}, 1)
        store.flush()
        store.write_batch({{b"a": None, b"c": b"3"}}, 2)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert result.returncode == -9, result.stderr
    store = RocksDBStore(path, "s", SMALL)
    try:
        # The unflushed batch (no WAL) is lost, and its offset with it.
        assert store.changelog_offset() == 1
        assert list(store.range()) == [(b"a", b"1"), (b"b", b"2")]
    finally:
        store.close()


@pytest.mark.parametrize("victim", ["CURRENT", "MANIFEST-*"])
def test_open_raises_state_error_when_files_corrupt(tmp_path: Path, victim: str) -> None:
    path = tmp_path / "s"
    store = RocksDBStore(path, "s", SMALL)
    store.write_batch({b"a": b"1"}, 1)
    store.close()
    for file in path.glob(victim):
        file.write_bytes(b"\x00garbage\x17" * 8)
    with pytest.raises(StateError, match="cannot open state store 's'"):
        RocksDBStore(path, "s", SMALL)
    # A failed open releases the lock, so the store can be destroyed and recreated.
    RocksDBStore.destroy(path)
    store = RocksDBStore(path, "s", SMALL)
    try:
        assert list(store.range()) == []
        assert store.changelog_offset() is None
    finally:
        store.close()


def test_destroy_raises_state_error_when_store_open(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        with pytest.raises(StateError, match="locked"):
            RocksDBStore.destroy(tmp_path / "s")
    finally:
        store.close()
    RocksDBStore.destroy(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_destroy_does_nothing_when_path_missing(tmp_path: Path) -> None:
    RocksDBStore.destroy(tmp_path / "missing")


def test_write_batch_raises_state_error_for_non_bytes_key(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    try:
        with pytest.raises(StateError, match="cannot write batch"):
            store.write_batch({"a": b"1"}, 5)  # type: ignore[dict-item]
        assert store.changelog_offset() is None
    finally:
        store.close()


def test_methods_raise_state_error_when_closed(tmp_path: Path) -> None:
    store = RocksDBStore(tmp_path / "s", "s", SMALL)
    store.close()
    store.close()
    with pytest.raises(StateError, match="closed"):
        store.get(b"a")
    with pytest.raises(StateError, match="closed"):
        store.flush()


def test_open_accepts_options_when_compression_and_bloom_off(tmp_path: Path) -> None:
    options = RocksDBOptions(compression=False, bloom_filter_bits_per_key=0, block_cache_size=0)
    store = RocksDBStore(tmp_path / "s", "s", options)
    try:
        store.write_batch({b"k": b"v"}, 0)
        store.flush()
        assert store.get(b"k") == b"v"
    finally:
        store.close()


@pytest.mark.parametrize(
    "overrides",
    [
        {"write_buffer_size": 0},
        {"max_write_buffer_number": 0},
        {"block_cache_size": -1},
        {"target_file_size_base": 1},
        {"max_background_jobs": 0},
        {"bloom_filter_bits_per_key": -1},
        {"write_buffer_size": True},
        {"write_buffer_size": 1.5e6},
        {"compression": "lz4"},
    ],
)
def test_options_raise_config_error_when_invalid(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RocksDBOptions(**overrides)  # type: ignore[arg-type]
