"""``Record``: one key/value with its timestamp, headers and (when read) its origin."""

from __future__ import annotations

from typing import Any, NamedTuple

Headers = tuple[tuple[str, bytes | None], ...]


class Record(NamedTuple):
    """An immutable record. ``topic``/``partition``/``offset`` say which input it came from,
    and are None for a record built by user code.

    A named tuple rather than a frozen dataclass: the runtime builds one or more per input
    record, and tuple construction is several times cheaper."""

    key: Any
    value: Any
    timestamp: int = 0
    headers: Headers = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def with_key(self, key: Any) -> Record:
        return self._replace(key=key)

    def with_value(self, value: Any) -> Record:
        return self._replace(value=value)

    def with_headers(self, headers: Headers) -> Record:
        return self._replace(headers=tuple(headers))

    def with_timestamp(self, timestamp: int) -> Record:
        return self._replace(timestamp=timestamp)


new_record = tuple.__new__
"""``new_record(Record, (key, value, timestamp, headers, topic, partition, offset))``: a
Record built without the Python-level ``__new__`` of a named tuple (about half the cost), for
the runtime's per-record paths; all seven fields, in order."""
