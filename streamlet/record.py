"""``Record``: one key/value with its timestamp, headers and (when read) its origin."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class Record:
    """An immutable record. ``topic``/``partition``/``offset`` say which input it came from,
    and are None for a record built by user code."""

    key: Any
    value: Any
    timestamp: int = 0
    headers: Headers = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def with_key(self, key: Any) -> Record:
        return replace(self, key=key)

    def with_value(self, value: Any) -> Record:
        return replace(self, value=value)

    def with_headers(self, headers: Headers) -> Record:
        return replace(self, headers=tuple(headers))

    def with_timestamp(self, timestamp: int) -> Record:
        return replace(self, timestamp=timestamp)
