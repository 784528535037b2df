"""KeyValueStore: typed access through serdes over a BufferedStore."""

from __future__ import annotations

from typing import Any

import pytest

from streamlet import serde
from streamlet.errors import SerializationError
from streamlet.state import BufferedStore, KeyValueStore, MemoryStore


def _store() -> KeyValueStore[str, Any]:
    return KeyValueStore(BufferedStore(MemoryStore("orders")), serde.String(), serde.Json())


class _TopicRecorder(serde.String):
    """A String serde that records the topic it is called with."""

    def __init__(self) -> None:
        self.topics: set[str] = set()

    def serialize(self, topic: str, value: str | None) -> bytes | None:
        self.topics.add(topic)
        return super().serialize(topic, value)

    def deserialize(self, topic: str, data: bytes | None) -> str | None:
        self.topics.add(topic)
        return super().deserialize(topic, data)


def test_get_returns_value_when_put() -> None:
    store = _store()
    store.put("o-1", {"qty": 2})
    assert store.get("o-1") == {"qty": 2}
    assert store.get("o-2") is None


def test_put_deletes_key_when_value_none() -> None:
    store = _store()
    store.put("o-1", [1])
    store.put("o-1", None)
    assert store.get("o-1") is None
    assert store.approximate_count() == 0


def test_delete_removes_key_when_present() -> None:
    store = _store()
    store.put("o-1", 1)
    store.delete("o-1")
    store.delete("never-there")
    assert list(store.all()) == []


def test_range_yields_decoded_pairs_in_bytewise_key_order() -> None:
    store = _store()
    for key in ["b", "a", "ab", "c", "B"]:
        store.put(key, key.upper())
    assert list(store.range("a", "c")) == [("a", "A"), ("ab", "AB"), ("b", "B")]
    assert [k for k, _ in store.range()] == ["B", "a", "ab", "b", "c"]
    assert [k for k, _ in store.range(end="a")] == ["B"]


def test_prefix_scan_matches_serialized_key_prefix() -> None:
    store = _store()
    for key in ["user:1", "user:10", "user:2", "users", "user"]:
        store.put(key, 0)
    assert [k for k, _ in store.prefix_scan("user:1")] == ["user:1", "user:10"]
    assert [k for k, _ in store.prefix_scan("user:")] == ["user:1", "user:10", "user:2"]


def test_reads_see_buffered_writes_when_backend_unflushed() -> None:
    buffered = BufferedStore(MemoryStore("counts"))
    store: KeyValueStore[str, int] = KeyValueStore(buffered, serde.String(), serde.Int64())
    store.put("w", 3)
    assert store.get("w") == 3
    assert buffered.backend.get(b"w") is None
    buffered.flush(10)
    assert buffered.backend.get(b"w") == (3).to_bytes(8, "big")
    assert store.approximate_count() == 1


def test_serdes_receive_store_name_as_topic() -> None:
    keys = _TopicRecorder()
    values = _TopicRecorder()
    store = KeyValueStore(BufferedStore(MemoryStore("seen")), keys, values)
    store.put("k", "v")
    store.get("k")
    list(store.all())
    assert keys.topics == {"seen"}
    assert values.topics == {"seen"}
    assert store.name == "seen"


def test_put_raises_serialization_error_when_key_none() -> None:
    store = _store()
    with pytest.raises(SerializationError, match="None key"):
        store.put(None, 1)  # type: ignore[arg-type]


def test_get_raises_serialization_error_when_key_has_wrong_type() -> None:
    store = _store()
    with pytest.raises(SerializationError):
        store.get(42)  # type: ignore[arg-type]
