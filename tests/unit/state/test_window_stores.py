"""``WindowStore`` and ``SessionStore``: time-ordered views over a BufferedStore."""

from __future__ import annotations

from streamlet import serde
from streamlet.state import BufferedStore, MemoryStore
from streamlet.state.session import SessionStore
from streamlet.state.window import WindowStore


def test_window_store_iterates_in_time_order_and_expires() -> None:
    store = WindowStore(BufferedStore(MemoryStore("w")), serde.String(), serde.Int64())
    for key, start in [("b", 20), ("a", 10), ("a", 0), ("c", 10)]:
        store.put(store.key_bytes(key), start, start + 1, start)
    store.set_meta("stream-time", 99)
    assert [(k, s) for k, s, _ts, _v in store.windows(0, 100)] == [
        ("a", 0),
        ("a", 10),
        ("c", 10),
        ("b", 20),
    ]
    assert store.expire(0, 20) == 3
    assert list(store.all()) == [("b", 20, 20)]
    assert store.meta("stream-time") == 99


def test_session_store_finds_overlapping_sessions_of_one_key() -> None:
    store = SessionStore(BufferedStore(MemoryStore("s")), serde.String(), serde.Int64())
    kb = store.key_bytes("a")
    store.put(kb, 0, 5, 5, 1)
    store.put(kb, 20, 30, 30, 2)
    store.put(store.key_bytes("ab"), 0, 5, 5, 9)  # a longer key with the same prefix
    assert [(s.start, s.end) for s in store.find(kb, 4, 21)] == [(0, 5), (20, 30)]
    assert [(s.start, s.end) for s in store.find(kb, 6, 100)] == [(20, 30)]
    assert [store.key_of(s.key_bytes) for s in store.ended(0, 6)] == ["a", "ab"]
    store.remove(kb, 0, 5)
    assert store.fetch("a") == [(20, 30, 2)]
