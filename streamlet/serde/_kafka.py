"""More of Kafka's own formats, so Java clients read what streamlet writes and vice versa."""

from __future__ import annotations

import struct
import uuid

from streamlet.serde._base import _Simple

_INT32 = struct.Struct(">i")


class Int32(_Simple[int]):
    """A signed 32-bit big-endian integer (Kafka's IntegerSerializer format)."""

    def _to_bytes(self, value: int) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"expected int, got {type(value).__name__}")
        if not -(2**31) <= value < 2**31:
            raise ValueError(f"{value} does not fit in 32 bits")
        return _INT32.pack(value)

    def _from_bytes(self, data: bytes) -> int:
        if len(data) != 4:
            raise ValueError(f"an int32 is 4 bytes, got {len(data)}")
        value: int = _INT32.unpack(data)[0]
        return value


class UUID(_Simple[uuid.UUID]):
    """A UUID as its canonical string form in UTF-8 (Kafka's UUIDSerializer format)."""

    def _to_bytes(self, value: uuid.UUID) -> bytes:
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"expected uuid.UUID, got {type(value).__name__}")
        return str(value).encode("ascii")

    def _from_bytes(self, data: bytes) -> uuid.UUID:
        return uuid.UUID(data.decode("ascii"))
