"""``InputTopic`` and ``OutputTopic``: typed ends of the driver's in-memory topics.

An input topic serializes with its serdes and hands the bytes to the driver, which runs
them through the topology; an output topic deserializes what the topology produced. Both
use the topic's name as the serdes' ``topic``, as the runtime's sources and sinks do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from streamlet.record import Headers, Record
from streamlet.serde import Serde
from streamlet.testing.message import Message

Send = Callable[[str, bytes | None, bytes | None, int, Headers], None]
"""``(topic, key, value, timestamp, headers)``: the driver's entry for one input record."""


class InputTopic:
    """Pipes records into one source topic of the topology.

    Each ``pipe`` runs to completion before it returns: the record, every record it causes on
    repartition (or other source) topics, its punctuations and the commit. A record without a
    timestamp gets the topic's current time, which then advances by ``auto_advance_ms``.
    Keys and values are serialized with the topic's serdes (``None`` serde: pass ``bytes``).
    """

    def __init__(
        self,
        name: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        send: Send,
        start_timestamp_ms: int = 0,
        auto_advance_ms: int = 0,
    ) -> None:
        self.name = name
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._send = send
        self._time = start_timestamp_ms
        self._advance = auto_advance_ms

    def __repr__(self) -> str:
        return f"InputTopic({self.name!r})"

    def pipe(
        self,
        key: Any,
        value: Any,
        timestamp: int | None = None,
        headers: Headers | Iterable[tuple[str, bytes | None]] = (),
    ) -> None:
        """Process one record; errors the topology raises propagate (see the driver)."""
        if timestamp is None:
            timestamp = self._time
            self._time += self._advance
        key_bytes = self._key_serde.serialize(self.name, key) if self._key_serde else key
        value_bytes = self._value_serde.serialize(self.name, value) if self._value_serde else value
        self._send(self.name, key_bytes, value_bytes, timestamp, tuple(headers))

    def pipe_many(self, records: Iterable[tuple[Any, Any] | Record]) -> None:
        """``pipe`` each ``(key, value)`` pair, or each ``Record`` with its timestamp and
        headers, in order."""
        for item in records:
            if isinstance(item, Record):
                self.pipe(item.key, item.value, item.timestamp, item.headers)
            else:
                key, value = item
                self.pipe(key, value)


class OutputTopic:
    """Reads, and consumes, what the topology produced to one topic.

    Reads are destructive and shared: records read through any ``OutputTopic`` of a topic are
    gone for every other one (as in Kafka Streams' driver). Records carry ``topic``,
    ``partition`` (always 0) and ``offset``. Only committed records are visible: those of a
    ``pipe`` that raised were aborted with it.
    """

    def __init__(
        self,
        name: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        queue: deque[Message],
    ) -> None:
        self.name = name
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._queue = queue

    def __repr__(self) -> str:
        return f"OutputTopic({self.name!r}, unread={len(self._queue)})"

    def is_empty(self) -> bool:
        """Whether every record produced so far has been read."""
        return not self._queue

    def queue_size(self) -> int:
        """How many records are waiting to be read."""
        return len(self._queue)

    def read_record(self) -> Record:
        """The oldest unread record; ``IndexError`` when there is none."""
        if not self._queue:
            raise IndexError(f"no unread record in topic {self.name!r}")
        return self._decode(self._queue.popleft())

    def read_records(self) -> list[Record]:
        """Every unread record, oldest first."""
        out = [self._decode(m) for m in self._queue]
        self._queue.clear()
        return out

    def read_key_values(self) -> list[tuple[Any, Any]]:
        """Every unread record as ``(key, value)``, oldest first."""
        return [(r.key, r.value) for r in self.read_records()]

    def read_values(self) -> list[Any]:
        """Every unread record's value, oldest first."""
        return [r.value for r in self.read_records()]

    def _decode(self, message: Message) -> Record:
        topic, ks, vs = self.name, self._key_serde, self._value_serde
        raw_key, raw_value = message.key(), message.value()
        return Record(
            ks.deserialize(topic, raw_key) if ks else raw_key,
            vs.deserialize(topic, raw_value) if vs else raw_value,
            message.timestamp()[1],
            tuple(message.headers() or ()),
            topic,
            message.partition(),
            message.offset(),
        )
