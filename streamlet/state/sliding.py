"""``SlidingStore``: the windows of a sliding aggregation and the records they are made of.

Windows ``[start, end]`` are kept like sessions (``SessionStore``'s rows: per key in end
order, plus a time index). The records still inside an open window are kept too, so a window
an out-of-order record creates or extends is the fold of exactly the records it contains:

- record row: ``r [key length: 4-byte BE][key][timestamp: 8-byte BE][seq: 8-byte BE]`` ->
  the record's value bytes; ``seq`` is the task's processing order, so folds follow arrival;
- record time index: ``q [timestamp][key length][key][seq]`` -> empty, for expiry.
"""

from __future__ import annotations

import struct

from streamlet.state.session import SessionStore

_LONG = struct.Struct(">q")
_LEN = struct.Struct(">I")
_TWO = struct.Struct(">qq")


class SlidingStore(SessionStore):
    """Sliding windows as sessions, plus the raw records of open windows (bytes values)."""

    def add_record(self, key_bytes: bytes, timestamp: int, seq: int, value: bytes) -> None:
        n = _LEN.pack(len(key_bytes))
        self.buffered.put(b"r" + n + key_bytes + _TWO.pack(timestamp, seq), value)
        self.buffered.put(b"q" + _LONG.pack(timestamp) + n + key_bytes + _LONG.pack(seq), b"")

    def records(self, key_bytes: bytes, ts_from: int, ts_to: int) -> list[tuple[int, int, bytes]]:
        """``(timestamp, seq, value)`` of the key's records with ``ts_from <= ts <= ts_to``,
        by timestamp."""
        prefix = b"r" + _LEN.pack(len(key_bytes)) + key_bytes
        lo = prefix + _LONG.pack(max(0, ts_from))
        hi = prefix + _LONG.pack(ts_to + 1)
        out = []
        for row, value in self.buffered.range(lo, hi):
            ts, seq = _TWO.unpack_from(row, len(prefix))
            out.append((ts, seq, value))
        return out

    def expire_records(self, ts_from: int, ts_to: int) -> None:
        """Delete every record with ``ts_from <= timestamp < ts_to``."""
        lo, hi = b"q" + _LONG.pack(max(0, ts_from)), b"q" + _LONG.pack(max(0, ts_to))
        rows = [row for row, _ in self.buffered.range(lo, hi)]
        for row in rows:
            (ts,) = _LONG.unpack_from(row, 1)
            (n,) = _LEN.unpack_from(row, 9)
            key_bytes = row[13 : 13 + n]
            (seq,) = _LONG.unpack_from(row, 13 + n)
            self.buffered.delete(row)
            self.buffered.delete(b"r" + _LEN.pack(n) + key_bytes + _TWO.pack(ts, seq))
