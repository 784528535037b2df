"""The wire formats of a foreign-key table join (Kafka Streams' KIP-213 design, own layout).

- ``Subscription`` (subscription topic, keyed by the foreign key): the left key, the hash of
  the left row that made it (None for a delete), what the right side must do with it, and
  the left task's partition, so the response returns to the task that holds the left row.
  Bytes: ``[version][instruction][partition: int32][hash length][hash][left key bytes]``.
- ``Response`` (response topic, keyed by the left key): the hash the subscription carried,
  the right row found (None: none), and whether an absent result is still announced with a
  tombstone (``loud``). Bytes: ``[version][flags][hash length][hash][right value bytes]``.
- ``CombinedKey``: the subscription store's key ``(foreign key, left key)`` as
  ``[foreign key length: int32][foreign key bytes][left key bytes]``, so a prefix scan on
  ``(foreign_key,)`` finds every left key subscribed to one right row.
- ``SubscriptionState``: the store's value, ``(hash, partition)``.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, NamedTuple

from streamlet.errors import SerializationError
from streamlet.serde._base import Serde

_VERSION = 1
_HEAD = struct.Struct(">BBiB")  # version, instruction, partition, hash length
_RESPONSE_HEAD = struct.Struct(">BBB")  # version, flags, hash length
_INT = struct.Struct(">i")
_LOUD, _HAS_VALUE = 1, 2


class Instruction(enum.IntEnum):
    """What the right side does with a subscription (the names of Kafka Streams' own)."""

    DELETE_KEY_NO_PROPAGATE = 0  # the left row moved to another foreign key
    DELETE_KEY_AND_PROPAGATE = 1  # the left row was deleted: answer so its result is too
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2  # answer even when the right row is absent
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3  # answer only when the right row exists


class Subscription(NamedTuple):
    left_key: Any
    hash: bytes | None
    instruction: Instruction
    partition: int


class Response(NamedTuple):
    hash: bytes | None
    value: Any  # the right row, None when absent
    loud: bool  # announce an absent result with a tombstone even if there was none
    partition: int = -1  # the left task's partition; not on the wire (the partitioner's)


def response_partition(_key: Any, value: Response, _partitions: int) -> int:
    """The response topic's partitioner: back to the partition of the left task."""
    return value.partition


def _part(inner: Serde[Any], topic: str, value: Any, what: str) -> bytes:
    data = inner.serialize(topic, value)
    if data is None:
        raise SerializationError(f"a foreign-key join cannot serialize a None {what}", topic=topic)
    return data


def _hash_field(data: bytes | None) -> bytes:
    return b"" if data is None else data


class SubscriptionSerde:
    """``Subscription`` values of the subscription topic; ``left_key`` via ``left_key_serde``."""

    def __init__(self, left_key_serde: Serde[Any]) -> None:
        self.left_key_serde = left_key_serde

    def __repr__(self) -> str:
        return f"SubscriptionSerde({self.left_key_serde!r})"

    def serialize(self, topic: str, value: Subscription | None) -> bytes | None:
        if value is None:
            return None
        h = _hash_field(value.hash)
        key = _part(self.left_key_serde, topic, value.left_key, "left key")
        return _HEAD.pack(_VERSION, int(value.instruction), value.partition, len(h)) + h + key

    def deserialize(self, topic: str, data: bytes | None) -> Subscription | None:
        if data is None:
            return None
        try:
            version, instruction, partition, n = _HEAD.unpack_from(data)
            if version != _VERSION:
                raise ValueError(f"unknown subscription version {version}")
            start = _HEAD.size
            h = data[start : start + n] if n else None
            key = self.left_key_serde.deserialize(topic, data[start + n :])
            return Subscription(key, h, Instruction(instruction), partition)
        except (struct.error, ValueError) as exc:
            raise SerializationError(f"not a foreign-key subscription: {exc}", topic=topic) from exc


class ResponseSerde:
    """``Response`` values of the response topic; the right row via ``right_value_serde``."""

    def __init__(self, right_value_serde: Serde[Any]) -> None:
        self.right_value_serde = right_value_serde

    def __repr__(self) -> str:
        return f"ResponseSerde({self.right_value_serde!r})"

    def serialize(self, topic: str, value: Response | None) -> bytes | None:
        if value is None:
            return None
        h = _hash_field(value.hash)
        right = (
            None if value.value is None else self.right_value_serde.serialize(topic, value.value)
        )
        flags = (_LOUD if value.loud else 0) | (0 if right is None else _HAS_VALUE)
        return _RESPONSE_HEAD.pack(_VERSION, flags, len(h)) + h + (right or b"")

    def deserialize(self, topic: str, data: bytes | None) -> Response | None:
        if data is None:
            return None
        try:
            version, flags, n = _RESPONSE_HEAD.unpack_from(data)
            if version != _VERSION:
                raise ValueError(f"unknown response version {version}")
            start = _RESPONSE_HEAD.size
            h = data[start : start + n] if n else None
            right = None
            if flags & _HAS_VALUE:
                right = self.right_value_serde.deserialize(topic, data[start + n :])
            return Response(h, right, bool(flags & _LOUD))
        except (struct.error, ValueError) as exc:
            raise SerializationError(f"not a foreign-key response: {exc}", topic=topic) from exc


class CombinedKey:
    """``(foreign_key, left_key)`` keys; ``(foreign_key,)`` serializes to their common prefix."""

    def __init__(self, foreign_key_serde: Serde[Any], left_key_serde: Serde[Any]) -> None:
        self.foreign_key_serde = foreign_key_serde
        self.left_key_serde = left_key_serde

    def __repr__(self) -> str:
        return f"CombinedKey({self.foreign_key_serde!r}, {self.left_key_serde!r})"

    def serialize(self, topic: str, value: tuple[Any, ...] | None) -> bytes | None:
        if value is None:
            return None
        fk = _part(self.foreign_key_serde, topic, value[0], "foreign key")
        head = _INT.pack(len(fk)) + fk
        if len(value) == 1:
            return head
        return head + _part(self.left_key_serde, topic, value[1], "left key")

    def deserialize(self, topic: str, data: bytes | None) -> tuple[Any, Any] | None:
        if data is None:
            return None
        try:
            (n,) = _INT.unpack_from(data)
            fk_end = _INT.size + n
            fk = self.foreign_key_serde.deserialize(topic, data[_INT.size : fk_end])
            return fk, self.left_key_serde.deserialize(topic, data[fk_end:])
        except struct.error as exc:
            raise SerializationError(f"not a combined key: {exc}", topic=topic) from exc


class SubscriptionState:
    """The subscription store's value: ``(hash of the left row, left partition)``."""

    def __repr__(self) -> str:
        return "SubscriptionState()"

    def serialize(self, topic: str, value: tuple[bytes | None, int] | None) -> bytes | None:
        if value is None:
            return None
        return _INT.pack(value[1]) + _hash_field(value[0])

    def deserialize(self, topic: str, data: bytes | None) -> tuple[bytes | None, int] | None:
        if data is None:
            return None
        if len(data) < _INT.size:
            raise SerializationError("not a subscription state", topic=topic)
        (partition,) = _INT.unpack_from(data)
        return (data[_INT.size :] or None), partition
