"""``JoinBufferStore`` and ``OuterJoinStore``: the stores of a stream-stream join."""

from __future__ import annotations

from streamlet import serde
from streamlet.state import BufferedStore, MemoryStore
from streamlet.state.join import Buffered, JoinBufferStore, OuterJoinStore, Pending


def test_buffer_keeps_duplicates_in_time_then_seq_order_and_expires_both_rows() -> None:
    buf = BufferedStore(MemoryStore("b"))
    store = JoinBufferStore(buf, serde.String(), serde.String())
    a, b = store.key_bytes("a"), store.key_bytes("b")
    for kb, ts, seq, value in [(a, 5, 1, "x"), (b, 5, 2, "y"), (a, 5, 3, "z"), (a, 2, 4, "w")]:
        store.add(kb, ts, seq, store.value_bytes(value))
    store.set_meta("seq", 4)
    assert store.between(a, 0, 5) == [Buffered(2, 4, "w"), Buffered(5, 1, "x"), Buffered(5, 3, "z")]
    assert store.between(a, 3, 4) == []
    assert store.expire(0, 5) == 1  # only the record at 2
    assert sorted(store.all()) == [("a", 5, "x"), ("a", 5, "z"), ("b", 5, "y")]
    assert store.expire(0, 6) == 3
    assert list(store.all()) == []
    assert [k for k, _ in buf.all()] == [b"\xffseq"]  # no index row left behind
    assert store.meta("seq") == 4


def test_outer_store_lists_pending_records_in_close_order() -> None:
    buf = BufferedStore(MemoryStore("o"))
    store = OuterJoinStore(buf, serde.String(), serde.Bytes())
    a, b = store.key_bytes("a"), store.key_bytes("b")
    pending = [Pending(7, 0, a, 3, b"l3"), Pending(4, 1, b, 2, b"r2"), Pending(4, 0, b, 1, b"l1")]
    for p in pending:
        store.put(p)
    assert store.first_timestamp() == 4
    assert store.before(7) == [pending[2], pending[1]]
    store.discard(4, 0, b, 1)
    store.discard(4, 0, b, 99)  # not pending: no write at all
    assert store.before(100) == [pending[1], pending[0]]
    store.remove(pending[1])
    store.remove(pending[0])
    assert store.first_timestamp() is None
    assert set(buf.pending().values()) == {None}  # deletes only of rows that were there
    assert len(buf.pending()) == 3
