"""``BufferedStore``: a task's uncommitted writes, held in front of a ``BytesStore``.

Between commits a task's writes stay here, visible to its own reads (read-your-writes), and
reach the backend only in ``flush(offset)`` — one atomic ``write_batch`` together with the
changelog offset they correspond to, after the transaction that produced their changelog
records has committed. An aborted transaction ``discard()``s them instead.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from streamlet.errors import StateError
from streamlet.state.base import BytesStore, prefix_end

_MISSING = object()


class BufferedStore:
    """Pending writes (a put's ``bytes`` or a delete's ``None``) merged over a backend.

    Every read reflects the pending writes: a pending put shadows the backend's value and a
    pending delete hides the backend's key. Iterators are snapshots taken when called, like
    the backend's. Repeated writes to a key coalesce to the last one. Not thread-safe: a
    store belongs to one task, which runs on one thread.
    """

    def __init__(self, backend: BytesStore) -> None:
        self._backend = backend
        self._pending: dict[bytes, bytes | None] = {}
        self._sorted_keys: list[bytes] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"BufferedStore({self._backend!r}, pending={len(self._pending)})"

    @property
    def name(self) -> str:
        """The backend's name."""
        return self._backend.name

    @property
    def backend(self) -> BytesStore:
        """The store flushed writes go to."""
        return self._backend

    def get(self, key: bytes) -> bytes | None:
        """The pending value of ``key`` if it has one, else the backend's."""
        value = self._pending.get(key, _MISSING)
        if value is _MISSING:
            return self._backend.get(key)
        return value  # type: ignore[return-value]

    def put(self, key: bytes, value: bytes) -> None:
        """Buffer a put; ``StateError`` for a non-bytes key or value."""
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise StateError(
                f"store {self.name!r} takes bytes keys and values, "
                f"got {type(key).__name__} -> {type(value).__name__}"
            )
        # _write inlined: one put per record of an aggregation
        if self._closed:
            raise StateError(f"store {self.name!r} is closed")
        pending = self._pending
        if key not in pending and self._sorted_keys is not None:
            insort(self._sorted_keys, key)
        pending[key] = value

    def delete(self, key: bytes) -> None:
        """Buffer a delete; ``StateError`` for a non-bytes key."""
        if not isinstance(key, bytes):
            raise StateError(f"store {self.name!r} takes bytes keys, got {type(key).__name__}")
        self._write(key, None)

    def range(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs with ``start <= key < end``, ascending, pending included."""
        if start is not None and end is not None and start >= end:
            return iter(())
        overlay = self._pending_between(start, end)
        base = self._backend.range(start, end)
        return _merge(base, overlay) if overlay else base

    def prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs whose key starts with ``prefix``, ascending."""
        return self.range(prefix, prefix_end(prefix))

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value)`` pair, ascending."""
        return self.range()

    def approximate_count(self) -> int:
        """The backend's estimate corrected for pending writes (exact over exact backends)."""
        backend = self._backend
        count = backend.approximate_count()
        for key, value in self._pending.items():
            count += (value is not None) - (backend.get(key) is not None)
        return max(0, count)

    def changelog_offset(self) -> int | None:
        """The backend's recorded offset: what the flushed state reflects, not pending writes."""
        return self._backend.changelog_offset()

    def pending(self) -> Mapping[bytes, bytes | None]:
        """A read-only view of the last write per key, in the order keys were first written.

        The view is live until the next ``flush`` or ``discard``; after either it keeps
        showing the writes it held, so it can still be read once they are flushed.
        """
        return MappingProxyType(self._pending)

    def has_pending(self) -> bool:
        """Whether any write is buffered."""
        return bool(self._pending)

    def flush(self, changelog_offset: int | None) -> None:
        """Write the pending writes and ``changelog_offset`` in one batch, then clear them.

        Nothing is written when there are no pending writes and no offset. If the backend
        raises, the pending writes are kept (the caller retries or discards them).
        """
        if not self._pending and changelog_offset is None:
            return
        self._backend.write_batch(self._pending, changelog_offset)
        self._pending = {}
        self._sorted_keys = None

    def discard(self) -> None:
        """Drop every pending write (the transaction that produced them aborted)."""
        self._pending = {}
        self._sorted_keys = None

    def apply_restored(self, writes: Mapping[bytes, bytes | None], changelog_offset: int) -> None:
        """Write a batch replayed from the changelog straight to the backend.

        Raises ``StateError`` if writes are pending: restoration happens before the task
        processes anything, so pending writes would mean the two were interleaved.
        """
        if self._pending:
            raise StateError(
                f"store {self.name!r} cannot apply restored records over "
                f"{len(self._pending)} pending writes"
            )
        self._backend.write_batch(writes, changelog_offset)

    def close(self) -> None:
        """Drop pending writes (never committed) and close the backend; idempotent."""
        self._closed = True
        self.discard()
        self._backend.close()

    def _write(self, key: bytes, value: bytes | None) -> None:
        if self._closed:
            raise StateError(f"store {self.name!r} is closed")
        pending = self._pending
        if key not in pending:
            # keep the sorted index rather than drop it: windowed stores range-scan between
            # writes, and re-sorting every pending key per scan is quadratic in a commit
            keys = self._sorted_keys
            if keys is not None:
                insort(keys, key)
        pending[key] = value

    def _pending_between(
        self, start: bytes | None, end: bytes | None
    ) -> list[tuple[bytes, bytes | None]]:
        """The pending writes with ``start <= key < end``, sorted by key (a snapshot)."""
        if not self._pending:
            return []
        keys = self._sorted_keys
        if keys is None:
            keys = self._sorted_keys = sorted(self._pending)
        lo = 0 if start is None else bisect_left(keys, start)
        hi = len(keys) if end is None else bisect_left(keys, end)
        pending = self._pending
        return [(key, pending[key]) for key in keys[lo:hi]]


def _merge(
    base: Iterator[tuple[bytes, bytes]], overlay: list[tuple[bytes, bytes | None]]
) -> Iterator[tuple[bytes, bytes]]:
    """Merge two ascending streams; ``overlay`` wins ties and its ``None`` hides the key."""
    i, n = 0, len(overlay)
    for key, value in base:
        while i < n and overlay[i][0] < key:
            over_key, over_value = overlay[i]
            i += 1
            if over_value is not None:
                yield over_key, over_value
        if i < n and overlay[i][0] == key:
            over_value = overlay[i][1]
            i += 1
            if over_value is not None:
                yield key, over_value
            continue
        yield key, value
    for over_key, over_value in overlay[i:]:
        if over_value is not None:
            yield over_key, over_value
