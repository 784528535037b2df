"""``MemoryStore``: a dict-backed ``BytesStore`` for tests and small, rebuildable state."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from streamlet.errors import StateError
from streamlet.state.base import prefix_end


class MemoryStore:
    """A ``BytesStore`` kept in a dict; nothing survives ``close()`` or the process.

    Ranges are sorted on demand and materialised when called, which makes every iterator a
    snapshot (as the contract requires) at a cost proportional to the store's size.
    ``write_batch`` is atomic because it validates every write before applying any.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._data: dict[bytes, bytes] = {}
        self._offset: int | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore(name={self._name!r}, keys={len(self._data)})"

    @property
    def name(self) -> str:
        """The store's name."""
        return self._name

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key``, or ``None``."""
        self._check_open()
        return self._data.get(key)

    def range(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs with ``start <= key < end``, ascending, as of this call."""
        self._check_open()
        selected = [
            item
            for item in self._data.items()
            if (start is None or item[0] >= start) and (end is None or item[0] < end)
        ]
        selected.sort()
        return iter(selected)

    def prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs whose key starts with ``prefix``, ascending."""
        return self.range(prefix, prefix_end(prefix))

    def approximate_count(self) -> int:
        """The exact number of keys."""
        self._check_open()
        return len(self._data)

    def write_batch(
        self, writes: Mapping[bytes, bytes | None], changelog_offset: int | None
    ) -> None:
        """Apply puts (``bytes``) and deletes (``None``) and record the offset, atomically."""
        self._check_open()
        for key, value in writes.items():
            if not isinstance(key, bytes) or not (value is None or isinstance(value, bytes)):
                raise StateError(
                    f"store {self._name!r} takes bytes keys and bytes-or-None values, "
                    f"got {type(key).__name__} -> {type(value).__name__}"
                )
        data = self._data
        for key, value in writes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        if changelog_offset is not None:
            self._offset = changelog_offset

    def changelog_offset(self) -> int | None:
        """The offset recorded by the last batch that carried one."""
        self._check_open()
        return self._offset

    def close(self) -> None:
        """Drop the contents; later calls other than ``close()`` raise ``StateError``."""
        self._closed = True
        self._data = {}

    def _check_open(self) -> None:
        if self._closed:
            raise StateError(f"store {self._name!r} is closed")
