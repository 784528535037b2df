"""``TypedView``: what the windowed and session store views share over a ``BufferedStore``."""

from __future__ import annotations

from typing import Any

from streamlet.errors import SerializationError
from streamlet.serde._base import Serde
from streamlet.state.buffered import BufferedStore


class TypedView:
    """A task's store partition with its key and value serdes; the store's name is the
    serdes' ``topic``, as in ``KeyValueStore``."""

    def __init__(self, store: BufferedStore, key_serde: Serde[Any], value_serde: Serde[Any]):
        self.buffered = store
        self._key_serde = key_serde
        self._value_serde = value_serde
        self.name = store.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def key_bytes(self, key: Any) -> bytes:
        data = None if key is None else self._key_serde.serialize(self.name, key)
        if data is None:
            raise SerializationError(f"store {self.name!r} cannot hold a None key")
        return data

    def key_of(self, key_bytes: bytes) -> Any:
        return self._key_serde.deserialize(self.name, key_bytes)
