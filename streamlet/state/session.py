"""``SessionStore``: sessions ``[start, end]`` per key over a ``BufferedStore``.

Byte layout, two rows per session in one store (so both are changelogged in one place):

- by key: ``k [key length: 4-byte BE][key][end: 8-byte BE][start: 8-byte BE]`` ->
  ``[timestamp: 8-byte BE][value]``: a key's sessions in end order, found by a prefix scan;
- by time: ``t [end][key length][key][start]`` -> empty: every session in end order, so closing
  and expiring are range scans from the oldest end;
- meta: ``m [name]`` -> 8-byte BE integer (e.g. the observed stream time).

Ends and starts are never negative (timestamps are not), so big-endian bytes sort like numbers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from streamlet.state.view import TypedView

_LONG = struct.Struct(">q")
_LEN = struct.Struct(">I")
_MAX = 2**63 - 1


class Session(NamedTuple):
    key_bytes: bytes
    start: int
    end: int
    timestamp: int
    value: Any


class SessionStore(TypedView):
    """Typed sessions of one task."""

    def find(self, key_bytes: bytes, earliest_end: int, latest_start: int) -> list[Session]:
        """The key's sessions with ``end >= earliest_end`` and ``start <= latest_start``."""
        prefix = b"k" + _LEN.pack(len(key_bytes)) + key_bytes
        lo = prefix + _LONG.pack(max(0, earliest_end))
        hi = prefix + b"\xff" * 8
        out = []
        for row, data in self.buffered.range(lo, hi):
            end, start = struct.unpack_from(">qq", row, len(prefix))
            if start <= latest_start:
                value = self._value_serde.deserialize(self.name, data[8:])
                out.append(Session(key_bytes, start, end, _LONG.unpack_from(data)[0], value))
        return out

    def put(self, key_bytes: bytes, start: int, end: int, timestamp: int, value: Any) -> None:
        data = self._value_serde.serialize(self.name, value)
        if data is None:
            self.remove(key_bytes, start, end)
            return
        by_key, by_time = self._rows(key_bytes, start, end)
        self.buffered.put(by_key, _LONG.pack(timestamp) + data)
        self.buffered.put(by_time, b"")

    def remove(self, key_bytes: bytes, start: int, end: int) -> None:
        by_key, by_time = self._rows(key_bytes, start, end)
        self.buffered.delete(by_key)
        self.buffered.delete(by_time)

    def ended(self, end_from: int, end_to: int) -> Iterator[Session]:
        """Sessions with ``end_from <= end < end_to``, ascending by end (a snapshot)."""
        lo = b"t" + _LONG.pack(max(0, end_from))
        hi = b"t" + _LONG.pack(max(0, end_to))
        rows = [row for row, _ in self.buffered.range(lo, hi)]
        for row in rows:
            (end,) = _LONG.unpack_from(row, 1)
            (n,) = _LEN.unpack_from(row, 9)
            key_bytes = row[13 : 13 + n]
            (start,) = _LONG.unpack_from(row, 13 + n)
            data = self.buffered.get(self._rows(key_bytes, start, end)[0])
            if data is None:
                continue
            value = self._value_serde.deserialize(self.name, data[8:])
            yield Session(key_bytes, start, end, _LONG.unpack_from(data)[0], value)

    def fetch(self, key: Any) -> list[tuple[int, int, Any]]:
        """``(start, end, value)`` of every stored session of ``key`` (for tests)."""
        return [(s.start, s.end, s.value) for s in self.find(self.key_bytes(key), 0, _MAX)]

    def meta(self, name: str) -> int | None:
        data = self.buffered.get(b"m" + name.encode())
        return None if data is None else int(_LONG.unpack(data)[0])

    def set_meta(self, name: str, value: int) -> None:
        self.buffered.put(b"m" + name.encode(), _LONG.pack(value))

    def approximate_count(self) -> int:
        return self.buffered.approximate_count()

    @staticmethod
    def _rows(key_bytes: bytes, start: int, end: int) -> tuple[bytes, bytes]:
        n = _LEN.pack(len(key_bytes))
        return (
            b"k" + n + key_bytes + _LONG.pack(end) + _LONG.pack(start),
            b"t" + _LONG.pack(end) + n + key_bytes + _LONG.pack(start),
        )
