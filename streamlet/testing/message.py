"""``Message``: an in-memory stand-in for ``confluent_kafka.Message``.

The driver feeds tasks with these, so a task deserializes, timestamps and locates records
exactly as it does with what the consumer returns. They also hold what the tasks produce:
every record in the driver's topics is a ``Message`` of bytes.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import TIMESTAMP_CREATE_TIME

RawHeaders = tuple[tuple[str, bytes | None], ...]


class Message:
    """One record of one topic, as bytes: the accessor methods of ``confluent_kafka.Message``.

    ``timestamp()`` is ``(TIMESTAMP_CREATE_TIME, ms)``; ``headers()`` is a list of pairs, or
    ``None`` when there are none (as the client returns them); ``error()`` is always ``None``.
    """

    __slots__ = ("_headers", "_key", "_offset", "_partition", "_timestamp", "_topic", "_value")

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: RawHeaders = (),
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._key = key
        self._value = value
        self._timestamp = timestamp
        self._headers = headers

    def __repr__(self) -> str:
        return (
            f"Message({self._topic}[{self._partition}]@{self._offset}, "
            f"key={self._key!r}, value={self._value!r}, timestamp={self._timestamp})"
        )

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, self._timestamp

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return list(self._headers) if self._headers else None

    def error(self) -> Any:
        return None


def as_headers(headers: Any) -> RawHeaders:
    """Headers as produced (a sequence of pairs, or ``None``) in the form ``Record`` holds."""
    if not headers:
        return ()
    return tuple((str(name), value) for name, value in headers)
