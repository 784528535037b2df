"""The Serde protocol and the primitive serdes.

A serde turns a Python value into bytes and back. ``None`` always maps to ``None`` (a Kafka
null, i.e. a tombstone for tables), so no serde has to special-case it. Failures raise
``SerializationError``; the runtime adds topic/partition/offset before it reaches the user.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import orjson

from streamlet.errors import SerializationError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@runtime_checkable
class Serde(Protocol[T]):
    """Converts values of one type to bytes and back. Must be stateless and thread-safe."""

    def serialize(self, topic: str, value: T | None) -> bytes | None:
        """``value`` as bytes for ``topic``; ``None`` for ``None``."""
        ...

    def deserialize(self, topic: str, data: bytes | None) -> T | None:
        """The value in ``data`` read from ``topic``; ``None`` for ``None``."""
        ...


class _Simple(Generic[T]):
    """Shared None handling and error wrapping for the primitive serdes."""

    def serialize(self, topic: str, value: T | None) -> bytes | None:
        if value is None:
            return None
        try:
            return self._to_bytes(value)
        except Exception as exc:
            raise SerializationError(
                f"{type(self).__name__} cannot serialize {type(value).__name__} value: {exc}",
                topic=topic,
            ) from exc

    def deserialize(self, topic: str, data: bytes | None) -> T | None:
        if data is None:
            return None
        try:
            return self._from_bytes(data)
        except Exception as exc:
            raise SerializationError(
                f"{type(self).__name__} cannot deserialize {len(data)} bytes: {exc}", topic=topic
            ) from exc

    def _to_bytes(self, value: T) -> bytes:
        raise NotImplementedError

    def _from_bytes(self, data: bytes) -> T:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Bytes(_Simple[bytes]):
    """Raw bytes, unchanged."""

    def serialize(self, topic: str, value: bytes | None) -> bytes | None:
        if value.__class__ is bytes:  # the per-record case, one frame; the rest checks
            return value
        return super().serialize(topic, value)

    def deserialize(self, topic: str, data: bytes | None) -> bytes | None:
        return data

    def _to_bytes(self, value: bytes) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"expected bytes, got {type(value).__name__}")
        return bytes(value)

    def _from_bytes(self, data: bytes) -> bytes:
        return data


class String(_Simple[str]):
    """UTF-8 text; invalid UTF-8 is a SerializationError, never a crash in user code."""

    # serialize/deserialize run several times per record: the common case takes one frame,
    # anything else (None, a wrong type, bad UTF-8) goes the checked way of _Simple
    def serialize(self, topic: str, value: str | None) -> bytes | None:
        if value.__class__ is str:
            try:
                return value.encode()
            except UnicodeEncodeError:  # a lone surrogate: the checked way says so
                pass
        return super().serialize(topic, value)

    def deserialize(self, topic: str, data: bytes | None) -> str | None:
        if data.__class__ is bytes:
            try:
                return data.decode()
            except UnicodeDecodeError:
                pass
        return super().deserialize(topic, data)

    def _to_bytes(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise TypeError(f"expected str, got {type(value).__name__}")
        return value.encode("utf-8")

    def _from_bytes(self, data: bytes) -> str:
        return data.decode("utf-8")


_INT64 = struct.Struct(">q")
_FLOAT64 = struct.Struct(">d")


class Int64(_Simple[int]):
    """A signed 64-bit big-endian integer (Kafka's LongSerializer format)."""

    def serialize(self, topic: str, value: int | None) -> bytes | None:
        if value.__class__ is int:  # one frame for the common case (see String)
            try:
                return _INT64.pack(value)
            except struct.error:  # out of range: the checked way says so
                pass
        return super().serialize(topic, value)

    def deserialize(self, topic: str, data: bytes | None) -> int | None:
        if data.__class__ is bytes and len(data) == 8:
            value: int = _INT64.unpack(data)[0]
            return value
        return super().deserialize(topic, data)

    def _to_bytes(self, value: int) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"expected int, got {type(value).__name__}")
        return _INT64.pack(value)

    def _from_bytes(self, data: bytes) -> int:
        if len(data) != 8:
            raise ValueError(f"an int64 is 8 bytes, got {len(data)}")
        value: int = _INT64.unpack(data)[0]
        return value


class Float64(_Simple[float]):
    """An IEEE-754 double, big-endian (Kafka's DoubleSerializer format)."""

    def _to_bytes(self, value: float) -> bytes:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"expected float, got {type(value).__name__}")
        return _FLOAT64.pack(float(value))

    def _from_bytes(self, data: bytes) -> float:
        if len(data) != 8:
            raise ValueError(f"a float64 is 8 bytes, got {len(data)}")
        value: float = _FLOAT64.unpack(data)[0]
        return value


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DECODER = json.JSONDecoder()


class Json(_Simple[Any]):
    """JSON as compact UTF-8; invalid JSON or UTF-8 is a SerializationError.

    orjson does the work (several times faster than the standard library, which matters on a
    per-record path); values it refuses (integers beyond 64 bits) fall back to the standard
    library, so every value ``json`` accepts still works."""

    def serialize(self, topic: str, value: Any) -> bytes | None:
        if value is not None:  # one frame for the common case (see String)
            try:
                return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:
                pass
        return super().serialize(topic, value)

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is not None:
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
        return super().deserialize(topic, data)

    def _to_bytes(self, value: Any) -> bytes:
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            return _ENCODER.encode(value).encode("utf-8")

    def _from_bytes(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return _DECODER.decode(data.decode("utf-8"))  # raises for truly invalid input
