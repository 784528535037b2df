"""The stores of a stream-stream join, views over a ``BufferedStore`` like the windowed ones.

``JoinBufferStore`` holds one side's records while they can still join (several per key and
timestamp: a join keeps duplicates):

- record row: ``r [key length: 4-byte BE][key][timestamp: 8-byte BE][seq: 8-byte BE]`` ->
  the value bytes; ``seq`` numbers the join's records in processing order;
- time index: ``q [timestamp][key length][key][seq]`` -> empty, so expiry is a range scan;
- meta row: ``0xff [name]`` -> 8-byte BE integer (the join's stream time and next seq).

``OuterJoinStore`` holds the records of a left or outer join still waiting for a match, in
the order they close: ``[timestamp][side: 1 byte][key length][key][seq]`` -> the value bytes
(serialized by that side's buffer store). Every write goes through the buffer, so it reaches
the changelog in the task's transaction with the output it explains.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from streamlet.errors import SerializationError
from streamlet.state.view import TypedView

_LONG = struct.Struct(">q")
_LEN = struct.Struct(">I")
_TWO = struct.Struct(">qq")
_META = b"\xff"


class Buffered(NamedTuple):
    """A buffered record: timestamp, processing sequence number, value."""

    timestamp: int
    seq: int
    value: Any


class JoinBufferStore(TypedView):
    """One side of a stream-stream join: its records per key, by timestamp."""

    def value_bytes(self, value: Any) -> bytes:
        data = self._value_serde.serialize(self.name, value)
        if data is None:
            raise SerializationError(f"store {self.name!r}: the value serde wrote None")
        return data

    def value_of(self, data: bytes) -> Any:
        return self._value_serde.deserialize(self.name, data)

    def add(self, key_bytes: bytes, timestamp: int, seq: int, data: bytes) -> None:
        n = _LEN.pack(len(key_bytes))
        self.buffered.put(b"r" + n + key_bytes + _TWO.pack(timestamp, seq), data)
        self.buffered.put(b"q" + _LONG.pack(timestamp) + n + key_bytes + _LONG.pack(seq), b"")

    def between(self, key_bytes: bytes, ts_from: int, ts_to: int) -> list[Buffered]:
        """The key's records with ``ts_from <= timestamp <= ts_to``, by timestamp then seq."""
        prefix = b"r" + _LEN.pack(len(key_bytes)) + key_bytes
        lo, hi = prefix + _LONG.pack(max(0, ts_from)), prefix + _LONG.pack(ts_to + 1)
        out = []
        for row, data in self.buffered.range(lo, hi):
            ts, seq = _TWO.unpack_from(row, len(prefix))
            out.append(Buffered(ts, seq, self.value_of(data)))
        return out

    def expire(self, ts_from: int, ts_to: int) -> int:
        """Delete the records with ``ts_from <= timestamp < ts_to``; how many there were."""
        lo, hi = b"q" + _LONG.pack(max(0, ts_from)), b"q" + _LONG.pack(max(0, ts_to))
        rows = [row for row, _ in self.buffered.range(lo, hi)]
        for row in rows:
            (n,) = _LEN.unpack_from(row, 9)
            key_bytes, seq = row[13 : 13 + n], row[13 + n :]
            self.buffered.delete(row)
            self.buffered.delete(b"r" + _LEN.pack(n) + key_bytes + row[1:9] + seq)
        return len(rows)

    def meta(self, name: str) -> int | None:
        data = self.buffered.get(_META + name.encode())
        return None if data is None else int(_LONG.unpack(data)[0])

    def set_meta(self, name: str, value: int) -> None:
        self.buffered.put(_META + name.encode(), _LONG.pack(value))

    def all(self) -> Iterator[tuple[Any, int, Any]]:
        """Every buffered ``(key, timestamp, value)`` (for tests)."""
        for row, data in self.buffered.range(b"r", b"s"):
            (n,) = _LEN.unpack_from(row, 1)
            yield self.key_of(row[5 : 5 + n]), _LONG.unpack_from(row, 5 + n)[0], self.value_of(data)

    def approximate_count(self) -> int:
        return self.buffered.approximate_count()


class Pending(NamedTuple):
    """An unmatched record of a left or outer join: ``side`` 0 is left, 1 right."""

    timestamp: int
    side: int
    key_bytes: bytes
    seq: int
    data: bytes


def _row(timestamp: int, side: int, key_bytes: bytes, seq: int) -> bytes:
    return (
        _LONG.pack(timestamp)
        + bytes((side,))
        + _LEN.pack(len(key_bytes))
        + key_bytes
        + _LONG.pack(seq)
    )


class OuterJoinStore(TypedView):
    """The unmatched records of a left or outer join, in the order their windows close."""

    def put(self, p: Pending) -> None:
        self.buffered.put(_row(p.timestamp, p.side, p.key_bytes, p.seq), p.data)

    def discard(self, timestamp: int, side: int, key_bytes: bytes, seq: int) -> None:
        """Forget a record that found a match (no write when it was not pending)."""
        row = _row(timestamp, side, key_bytes, seq)
        if self.buffered.get(row) is not None:
            self.buffered.delete(row)

    def remove(self, p: Pending) -> None:
        self.buffered.delete(_row(p.timestamp, p.side, p.key_bytes, p.seq))

    def before(self, ts_to: int) -> list[Pending]:
        """The pending records with ``timestamp < ts_to``, in close order."""
        out = []
        for row, data in self.buffered.range(None, _LONG.pack(max(0, ts_to))):
            (ts,) = _LONG.unpack_from(row)
            (n,) = _LEN.unpack_from(row, 9)
            out.append(
                Pending(ts, row[8], row[13 : 13 + n], _LONG.unpack_from(row, 13 + n)[0], data)
            )
        return out

    def first_timestamp(self) -> int | None:
        for row, _ in self.buffered.range(None, None):
            return int(_LONG.unpack_from(row)[0])
        return None

    def approximate_count(self) -> int:
        return self.buffered.approximate_count()
