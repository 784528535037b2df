"""Serdes for windowed keys, byte-compatible with Kafka Streams so Java consumers read them.

- ``Windowed(inner, window_size_ms)``: ``[inner key bytes][start: 8-byte big-endian]``, the
  layout of Kafka Streams' ``TimeWindowedSerializer``. The bytes carry no end, so reading needs
  the window size (``end = start + window_size_ms``), as ``TimeWindowedDeserializer`` does.
- ``SessionWindowed(inner)``: ``[inner key bytes][end: 8-byte BE][start: 8-byte BE]``, the
  layout of Kafka Streams' ``SessionWindowedSerializer``.
"""

from __future__ import annotations

import struct
from typing import Any

from streamlet.errors import SerializationError
from streamlet.serde._base import Serde
from streamlet.topology.windows import Windowed as WindowedKey

_LONG = struct.Struct(">q")
_TWO_LONGS = struct.Struct(">qq")


def _inner_bytes(inner: Serde[Any], topic: str, value: Any) -> bytes:
    if not isinstance(value, WindowedKey):
        raise SerializationError(
            f"a windowed serde takes sl.Windowed(key, start, end) keys, not {type(value).__name__}"
        )
    data = inner.serialize(topic, value.key)
    if data is None:
        raise SerializationError("a windowed key cannot have a None key")
    return data


class Windowed:
    """A time-windowed key: ``[key][start]``; ``window_size_ms`` rebuilds ``end`` on reading."""

    def __init__(self, inner: Serde[Any], window_size_ms: int | None = None) -> None:
        self.inner = inner
        self.window_size_ms = window_size_ms

    def __repr__(self) -> str:
        return f"Windowed({self.inner!r}, window_size_ms={self.window_size_ms})"

    def serialize(self, topic: str, value: WindowedKey | None) -> bytes | None:
        if value is None:
            return None
        return _inner_bytes(self.inner, topic, value) + _LONG.pack(value.start)

    def deserialize(self, topic: str, data: bytes | None) -> WindowedKey | None:
        if data is None:
            return None
        if self.window_size_ms is None:
            raise SerializationError(
                "serde.Windowed needs window_size_ms= to read keys: the bytes carry only the "
                "window start"
            )
        if len(data) < 8:
            raise SerializationError(f"a time-windowed key needs >= 8 bytes, got {len(data)}")
        (start,) = _LONG.unpack_from(data, len(data) - 8)
        key = self.inner.deserialize(topic, data[:-8])
        return WindowedKey(key, start, start + self.window_size_ms)


class SessionWindowed:
    """A session-windowed key: ``[key][end][start]``."""

    def __init__(self, inner: Serde[Any]) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"SessionWindowed({self.inner!r})"

    def serialize(self, topic: str, value: WindowedKey | None) -> bytes | None:
        if value is None:
            return None
        return _inner_bytes(self.inner, topic, value) + _TWO_LONGS.pack(value.end, value.start)

    def deserialize(self, topic: str, data: bytes | None) -> WindowedKey | None:
        if data is None:
            return None
        if len(data) < 16:
            raise SerializationError(f"a session-windowed key needs >= 16 bytes, got {len(data)}")
        end, start = _TWO_LONGS.unpack_from(data, len(data) - 16)
        return WindowedKey(self.inner.deserialize(topic, data[:-16]), start, end)
