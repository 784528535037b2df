"""``KeyValueStore``: the typed store a processor gets from ``ctx.store(name)``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from streamlet.errors import SerializationError
from streamlet.serde._base import Serde
from streamlet.state.buffered import BufferedStore

K = TypeVar("K")
V = TypeVar("V")


class KeyValueStore(Generic[K, V]):
    """Keys and values of Python types over a ``BufferedStore``, through two serdes.

    The store's name is passed to the serdes as their ``topic``. Ordering is the *bytewise*
    order of serialized keys: ``range`` bounds and ``prefix_scan`` prefixes are serialized
    with the key serde and compared as bytes, which matches the natural order only for serdes
    that preserve it (e.g. ``String`` for text; ``Int64`` only for non-negative numbers).
    Writes are buffered until the task commits, and reads see them at once.
    """

    def __init__(self, store: BufferedStore, key_serde: Serde[K], value_serde: Serde[V]) -> None:
        self._store = store
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._name = store.name

    def __repr__(self) -> str:
        return f"KeyValueStore(name={self._name!r})"

    @property
    def name(self) -> str:
        """The store's name."""
        return self._name

    def get(self, key: K) -> V | None:
        """The value under ``key``, or ``None``."""
        # _key_bytes inlined here and in put: both run once per record of an aggregation
        key_bytes = None if key is None else self._key_serde.serialize(self._name, key)
        if key_bytes is None:
            raise SerializationError(f"store {self._name!r} cannot hold a None key")
        data = self._store.get(key_bytes)
        if data is None:
            return None
        return self._value_serde.deserialize(self._name, data)

    def put(self, key: K, value: V | None) -> None:
        """Store ``value`` under ``key``; a ``None`` value deletes the key."""
        key_bytes = None if key is None else self._key_serde.serialize(self._name, key)
        if key_bytes is None:
            raise SerializationError(f"store {self._name!r} cannot hold a None key")
        data = None if value is None else self._value_serde.serialize(self._name, value)
        if data is None:
            self._store.delete(key_bytes)
        else:
            self._store.put(key_bytes, data)

    def delete(self, key: K) -> None:
        """Remove ``key`` (a no-op if absent)."""
        self._store.delete(self._key_bytes(key))

    def range(self, start: K | None = None, end: K | None = None) -> Iterator[tuple[K, V]]:
        """Pairs whose serialized key lies in ``[start, end)``; ``None`` is unbounded."""
        start_bytes = None if start is None else self._key_bytes(start)
        end_bytes = None if end is None else self._key_bytes(end)
        return self._decode(self._store.range(start_bytes, end_bytes))

    def prefix_scan(self, prefix_key: K) -> Iterator[tuple[K, V]]:
        """Pairs whose serialized key starts with the bytes of ``prefix_key`` serialized."""
        return self._decode(self._store.prefix(self._key_bytes(prefix_key)))

    def all(self) -> Iterator[tuple[K, V]]:
        """Every pair, in bytewise order of serialized keys."""
        return self._decode(self._store.all())

    def approximate_count(self) -> int:
        """An estimate of the number of keys."""
        return self._store.approximate_count()

    def _key_bytes(self, key: K) -> bytes:
        data = None if key is None else self._key_serde.serialize(self._name, key)
        if data is None:
            raise SerializationError(f"store {self._name!r} cannot hold a None key")
        return data

    def _decode(self, pairs: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[K, V]]:
        name = self._name
        key_serde = self._key_serde
        value_serde = self._value_serde
        for key_bytes, value_bytes in pairs:
            key = key_serde.deserialize(name, key_bytes)
            value = value_serde.deserialize(name, value_bytes)
            yield key, value  # type: ignore[misc]
