"""``RocksDBStore``: the durable ``BytesStore``, on rocksdict in raw (bytes) mode.

Writes go through one ``WriteBatch`` with the write-ahead log disabled: the changelog topic
is the log. The changelog offset lives under a reserved key in its own column family, written
in the same batch as the data, so it never appears in user ranges.

Crash consistency without a WAL rests on flushing both column families *atomically*:
``atomic_flush`` makes every background flush (a full memtable) cover both families at once.
A manual ``Rdict.flush()`` covers only the family it is called on, so ``flush()`` instead
asks for a manual compaction of the (one-key) offsets family: with ``atomic_flush`` RocksDB
flushes the memtables of *every* family in one atomic flush before compacting
(``DBImpl::CompactRangeInternal`` → ``AtomicFlushMemTables``). After a crash, the data and
the offset on disk therefore always come from the same batch.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import struct
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rocksdict import (
    BlockBasedOptions,
    Cache,
    CompactOptions,
    DBCompressionType,
    Options,
    Rdict,
    ReadOptions,
    WriteBatch,
    WriteOptions,
)

from streamlet.errors import ConfigError, StateError, StoreLockedError
from streamlet.state.base import prefix_end

LOCK_FILE = "LOCK.streamlet"
_OFFSETS_CF = "streamlet-offsets"
_OFFSET_KEY = b"changelog-offset"
_OFFSET = struct.Struct(">q")
_MIB = 1024 * 1024
_EXHAUSTED: Iterator[tuple[Any, Any]] = iter(())


@dataclass(frozen=True)
class RocksDBOptions:
    """RocksDB tuning for one store; every store gets its own block cache of this size.

    ``compression`` turns LZ4 on or off; ``bloom_filter_bits_per_key`` of 0 disables the
    bloom filter. Invalid values raise ``ConfigError``.
    """

    write_buffer_size: int = 64 * _MIB
    max_write_buffer_number: int = 3
    block_cache_size: int = 64 * _MIB
    target_file_size_base: int = 64 * _MIB
    max_background_jobs: int = 2
    bloom_filter_bits_per_key: int = 10
    compression: bool = True

    def __post_init__(self) -> None:
        minimums = {
            "write_buffer_size": 64 * 1024,
            "max_write_buffer_number": 1,
            "block_cache_size": 0,
            "target_file_size_base": 64 * 1024,
            "max_background_jobs": 1,
            "bloom_filter_bits_per_key": 0,
        }
        for field_name, minimum in minimums.items():
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(
                    f"RocksDBOptions.{field_name} must be an int, got {type(value).__name__}"
                )
            if value < minimum:
                raise ConfigError(f"RocksDBOptions.{field_name} must be >= {minimum}, got {value}")
        if not isinstance(self.compression, bool):
            raise ConfigError(
                f"RocksDBOptions.compression must be a bool, got {type(self.compression).__name__}"
            )

    def to_options(self) -> Options:
        """Raw-mode rocksdict ``Options`` for the data column family (``atomic_flush`` on)."""
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.create_missing_column_families(True)
        # With the WAL off only an atomic flush keeps data and offset in step on disk.
        options.set_atomic_flush(True)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_max_background_jobs(self.max_background_jobs)
        options.set_compression_type(
            DBCompressionType.lz4() if self.compression else DBCompressionType.none()
        )
        table = BlockBasedOptions()
        table.set_block_cache(Cache(self.block_cache_size))
        if self.bloom_filter_bits_per_key:
            table.set_bloom_filter(self.bloom_filter_bits_per_key, False)
        options.set_block_based_table_factory(table)
        return options


class RocksDBStore:
    """A ``BytesStore`` in a RocksDB directory, exclusively locked while open.

    Opening takes a non-blocking ``flock`` on ``LOCK.streamlet`` in ``path``; if another
    process (or another open store in this process) holds it, ``StateError`` names the path.
    A store RocksDB cannot open (corrupt files) raises ``StateError``; ``destroy(path)``
    wipes it. ``close()`` flushes, so a clean close loses nothing; a crash may lose the
    batches written since the last flush, but always together with their offsets.
    """

    def __init__(self, path: Path, name: str, options: RocksDBOptions = RocksDBOptions()) -> None:
        self._path = Path(path)
        self._name = name
        try:
            self._path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {self._path}: {exc}") from exc
        self._lock_fd: int | None = _acquire_lock(self._path)
        db: Rdict | None = None
        try:
            db = Rdict(
                str(self._path),
                options=options.to_options(),
                column_families={_OFFSETS_CF: Options(raw_mode=True)},
            )
            self._offsets = db.get_column_family(_OFFSETS_CF)
            self._offsets_handle = db.get_column_family_handle(_OFFSETS_CF)
            raw = self._offsets.get(_OFFSET_KEY)
            self._offset: int | None = None if raw is None else _OFFSET.unpack(raw)[0]
        except Exception as exc:
            if db is not None:
                db.close()
            _release_lock(self._lock_fd)
            raise StateError(f"cannot open state store {name!r} at {self._path}: {exc}") from exc
        self._db: Rdict | None = db
        self._write_options = WriteOptions()
        # The stub declares disable_wal a method; at runtime it is a settable property.
        self._write_options.disable_wal = True  # type: ignore[method-assign,assignment]
        self._cursors: weakref.WeakSet[_Cursor] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"RocksDBStore(path={str(self._path)!r}, name={self._name!r})"

    @property
    def name(self) -> str:
        """The store's name."""
        return self._name

    @property
    def path(self) -> Path:
        """The store's directory."""
        return self._path

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key``, or ``None``."""
        db = self._db  # _live() inlined: a read per record
        if db is None:
            raise StateError(f"store {self._name!r} is closed")
        try:
            value: bytes | None = db.get(key)
        except Exception as exc:
            raise StateError(f"cannot read store {self._name!r}: {exc}") from exc
        return value

    def range(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs with ``start <= key < end``, ascending, as of this call."""
        db = self._live()
        if start is not None and end is not None and start >= end:
            return iter(())
        read_options = ReadOptions()
        if end is not None:
            read_options.set_iterate_upper_bound(end)
        try:
            items = db.items(from_key=start, read_opt=read_options)
        except Exception as exc:
            raise StateError(f"cannot iterate store {self._name!r}: {exc}") from exc
        cursor = _Cursor(items, end, self._name)
        self._cursors.add(cursor)
        return cursor

    def prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs whose key starts with ``prefix``, ascending."""
        return self.range(prefix, prefix_end(prefix))

    def approximate_count(self) -> int:
        """RocksDB's ``estimate-num-keys`` (overwrites and deletes can skew it)."""
        estimate = self._live().property_int_value("rocksdb.estimate-num-keys")
        return max(0, estimate or 0)

    def write_batch(
        self, writes: Mapping[bytes, bytes | None], changelog_offset: int | None
    ) -> None:
        """Apply puts and deletes and record the offset in one WAL-less ``WriteBatch``."""
        db = self._live()
        try:
            batch = WriteBatch(raw_mode=True)
            for key, value in writes.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            if changelog_offset is not None:
                batch.put(_OFFSET_KEY, _OFFSET.pack(changelog_offset), self._offsets_handle)
            if batch.is_empty():
                return
            db.write(batch, self._write_options)
        except Exception as exc:
            raise StateError(f"cannot write batch to store {self._name!r}: {exc}") from exc
        if changelog_offset is not None:
            self._offset = changelog_offset

    def changelog_offset(self) -> int | None:
        """The offset recorded by the last batch that carried one."""
        self._live()
        return self._offset

    def flush(self) -> None:
        """Flush both column families' memtables to disk in one atomic flush."""
        self._live()
        compact = CompactOptions()
        compact.set_exclusive_manual_compaction(False)
        try:
            # The atomic flush of every family (see the module docstring). rocksdict drops
            # compact_range's status, so the per-family flushes below surface any error; they
            # are no-ops when the atomic flush worked, and flush data before offset otherwise.
            self._offsets.compact_range(None, None, compact)
            self._live().flush()
            self._offsets.flush()
        except Exception as exc:
            raise StateError(f"cannot flush store {self._name!r}: {exc}") from exc

    def close(self) -> None:
        """Flush, close RocksDB and release the directory lock; idempotent."""
        if self._db is None:
            return
        try:
            self.flush()
        finally:
            for cursor in list(self._cursors):
                cursor.release()
            db, self._db = self._db, None
            offsets = self._offsets
            del self._offsets, self._offsets_handle
            try:
                # Data before offset: if the flush above failed, each close flushes its own
                # family, and an offset must never reach disk ahead of its data.
                db.close()
                offsets.close()
            except Exception as exc:
                raise StateError(f"cannot close store {self._name!r}: {exc}") from exc
            finally:
                if self._lock_fd is not None:
                    _release_lock(self._lock_fd)
                    self._lock_fd = None

    @staticmethod
    def destroy(path: Path) -> None:
        """Delete the store directory at ``path``; ``StateError`` if the store is open."""
        path = Path(path)
        if not path.exists():
            return
        fd = _acquire_lock(path)
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise StateError(f"cannot delete state store {path}: {exc}") from exc
        finally:
            _release_lock(fd)

    def _live(self) -> Rdict:
        db = self._db
        if db is None:
            raise StateError(f"store {self._name!r} is closed")
        return db


class _Cursor:
    """Iterates ``RdictItems`` below ``end``; ``release()`` lets a closed store's RocksDB shut.

    rocksdict keeps the database open while any iterator over it is alive, which would keep
    RocksDB's own lock and stop the store from being reopened in this process.

    In raw mode rocksdict hands RocksDB a pointer into the ``bytes`` object given as the
    iterator's upper bound without keeping that object alive, so the cursor holds ``end``
    for its whole life. It also compares against ``end`` itself: the bound only saves RocksDB
    from scanning past the range, correctness does not rest on it.
    """

    __slots__ = ("__weakref__", "_end", "_items", "_name")

    def __init__(self, items: Iterator[tuple[Any, Any]], end: bytes | None, name: str) -> None:
        self._items: Iterator[tuple[Any, Any]] | None = items
        self._end = end
        self._name = name

    def __iter__(self) -> _Cursor:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        items = self._items
        if items is None:
            raise StateError(f"store {self._name!r} was closed while being iterated")
        try:
            key, value = next(items)
        except StopIteration:
            raise
        except Exception as exc:
            raise StateError(f"cannot iterate store {self._name!r}: {exc}") from exc
        end = self._end
        if end is not None and key >= end:
            self._items = _EXHAUSTED
            raise StopIteration
        return key, value

    def release(self) -> None:
        self._items = None


def _acquire_lock(directory: Path) -> int:
    """An exclusive ``flock`` on ``directory/LOCK.streamlet``, holding this process's pid."""
    lock_path = directory / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError(f"cannot create lock file {lock_path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            raise StoreLockedError(
                f"state store {directory} is locked ({lock_path} is held by pid {holder}, "
                "or by another open store in this process)"
            ) from exc
        raise StateError(f"cannot lock {lock_path}: {exc}") from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
