"""``WindowStore``: fixed-bound windows per key over a ``BufferedStore``, in time order.

Byte layout (the order is what makes expiry and close cheap range scans):

- window row: ``[start: 8-byte big-endian][key bytes]`` -> ``[timestamp: 8-byte BE][value]``,
  where ``timestamp`` is the largest record timestamp aggregated into the window;
- meta row: ``0xff [name]`` -> 8-byte BE integer (e.g. the observed stream time); starts are
  never negative, so every window row sorts before ``0x80`` and meta rows after them.

Writes go through the buffer like any store's, so they reach the changelog in the task's
transaction; expired rows are deleted as retention passes (their deletes are logged too, so
a restored store does not regrow).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from streamlet.state.view import TypedView

_LONG = struct.Struct(">q")
_META = b"\xff"


def encode_long(value: int) -> bytes:
    return _LONG.pack(value)


class WindowStore(TypedView):
    """Typed windows ``(key, start) -> (timestamp, value)`` for one task."""

    def get(self, key_bytes: bytes, start: int) -> tuple[int, Any] | None:
        """``(timestamp, aggregate)`` of the window, or None."""
        data = self.buffered.get(_LONG.pack(start) + key_bytes)
        if data is None:
            return None
        return _LONG.unpack_from(data)[0], self._value_serde.deserialize(self.name, data[8:])

    def put(self, key_bytes: bytes, start: int, timestamp: int, value: Any) -> None:
        data = self._value_serde.serialize(self.name, value)
        row = _LONG.pack(start) + key_bytes
        if data is None:
            self.buffered.delete(row)
        else:
            self.buffered.put(row, _LONG.pack(timestamp) + data)

    def windows(self, start_from: int, start_to: int) -> Iterator[tuple[Any, int, int, Any]]:
        """``(key, start, timestamp, value)`` of windows with ``start_from <= start < start_to``,
        ascending by start, then by key bytes."""
        lo, hi = _LONG.pack(max(0, start_from)), _LONG.pack(max(0, start_to))
        name, ks, vs = self.name, self._key_serde, self._value_serde
        for row, data in self.buffered.range(lo, hi):
            start = _LONG.unpack_from(row)[0]
            timestamp = _LONG.unpack_from(data)[0]
            yield ks.deserialize(name, row[8:]), start, timestamp, vs.deserialize(name, data[8:])

    def fetch(self, key: Any, start: int) -> Any:
        """The aggregate of ``key``'s window starting at ``start``, or None (for tests)."""
        found = self.get(self.key_bytes(key), start)
        return None if found is None else found[1]

    def all(self) -> Iterator[tuple[Any, int, Any]]:
        """Every ``(key, start, value)``, in time order."""
        for key, start, _ts, value in self.windows(0, 2**63 - 1):
            yield key, start, value

    def expire(self, start_from: int, start_to: int) -> int:
        """Delete the windows with ``start_from <= start < start_to``; how many there were."""
        lo, hi = _LONG.pack(max(0, start_from)), _LONG.pack(max(0, start_to))
        rows = [row for row, _ in self.buffered.range(lo, hi)]
        for row in rows:
            self.buffered.delete(row)
        return len(rows)

    def meta(self, name: str) -> int | None:
        data = self.buffered.get(_META + name.encode())
        return None if data is None else int(_LONG.unpack(data)[0])

    def set_meta(self, name: str, value: int) -> None:
        self.buffered.put(_META + name.encode(), _LONG.pack(value))

    def approximate_count(self) -> int:
        return self.buffered.approximate_count()
