"""Stream-table joins through the TopologyTestDriver: the Kafka Streams 4.0 docs' table
("Semantics of stream-table joins") cell by cell, then null keys and values, the result's
key, timestamp and headers, and a joiner that raises."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.config import AppConfig, ErrorPolicies, ErrorPolicy
from streamlet.errors import ProcessingError
from streamlet.testing import TopologyTestDriver

S, J = serde.String(), serde.Json()
KEY = "k"  # the docs' table omits the key: every record has the same one

# (timestamp, side, value) per row of the docs' table, in its order; None is a null value
ROWS: list[tuple[int, str, str | None]] = [
    (1, "stream", None),
    (2, "table", None),
    (3, "stream", "A"),
    (4, "table", "a"),
    (5, "stream", "B"),
    (6, "table", "b"),
    (7, "stream", None),
    (8, "table", None),
    (9, "stream", "C"),
    (10, "table", "c"),
    (11, "table", None),
    (12, "stream", None),
    (13, "table", None),
    (14, "table", "d"),
    (15, "stream", "D"),
]
# what the joiner is called with per row (None: an empty cell, the joiner is not called)
CELLS: dict[str, dict[int, tuple[str, str | None] | None]] = {
    "join": {5: ("B", "a"), 15: ("D", "d")},
    "left_join": {3: ("A", None), 5: ("B", "a"), 9: ("C", None), 15: ("D", "d")},
}


class Joined:
    """A joiner that remembers its calls; the result carries both arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, stream_value: Any, table_value: Any) -> list[Any]:
        self.calls.append((stream_value, table_value))
        return [stream_value, table_value]


def _app(method: str, joiner: Any) -> sl.App:
    app = sl.App("st-join")
    stream = app.stream("stream", key_serde=S, value_serde=S)
    table = app.table("table", name="table", key_serde=S, value_serde=S)
    getattr(stream, method)(table, joiner).to("out", value_serde=J)
    return app


@pytest.mark.parametrize(
    ("method", "row"),
    [(method, ts) for method in CELLS for ts, _, _ in ROWS],
    ids=lambda p: str(p),
)
def test_docs_table_cell(method: str, row: int) -> None:
    """Pipe the rows before ``row``, then ``row``: the joiner is called as the cell says
    (or not at all), and only that result comes out, at the row's timestamp."""
    joiner = Joined()
    with TopologyTestDriver(_app(method, joiner)) as driver:
        inputs = {side: driver.input_topic(side, S, S) for side in ("stream", "table")}
        out = driver.output_topic("out", S, J)
        for ts, side, value in ROWS:
            if ts == row:
                joiner.calls.clear()
                out.read_records()
            inputs[side].pipe(KEY, value, timestamp=ts)
            if ts == row:
                break
        records = out.read_records()
    cell = CELLS[method].get(row)
    if cell is None:
        assert joiner.calls == []
        assert records == []
    else:
        assert joiner.calls == [cell]
        assert [(r.key, r.value, r.timestamp) for r in records] == [(KEY, list(cell), row)]


def test_docs_table_covers_every_cell() -> None:
    assert len(ROWS) * len(CELLS) == 30


def test_table_updates_and_deletes_never_emit() -> None:
    joiner = Joined()
    with TopologyTestDriver(_app("left_join", joiner)) as driver:
        table = driver.input_topic("table", S, S)
        table.pipe_many([("x", "1"), ("x", "2"), ("x", None), ("y", "3")])
        assert driver.output_topic("out").is_empty()
    assert joiner.calls == []


def test_null_value_stream_record_is_dropped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    for method in CELLS:
        with TopologyTestDriver(_app(method, Joined())) as driver:
            driver.input_topic("table", S, S).pipe("k", "row")
            with caplog.at_level(logging.WARNING, logger="streamlet.ops"):
                driver.input_topic("stream", S, S).pipe_many([("k", None), ("k", None)])
            assert driver.output_topic("out").is_empty()
            assert driver._tasks[0].dropped == {"join_null_value": 2}
    assert "offset 0" in caplog.text and "join null value" in caplog.text


def test_null_key_record_is_dropped_by_join_and_joined_with_none_by_left_join() -> None:
    with TopologyTestDriver(_app("join", Joined())) as driver:
        driver.input_topic("stream", S, S).pipe(None, "v")
        assert driver.output_topic("out").is_empty()
        assert driver._tasks[0].dropped == {"join_null_key": 1}
    joiner = Joined()
    with TopologyTestDriver(_app("left_join", joiner)) as driver:
        driver.input_topic("stream", S, S).pipe(None, "v", timestamp=7)
        (record,) = driver.output_topic("out", S, J).read_records()
        assert driver._tasks[0].dropped == {}
    assert (record.key, record.value, record.timestamp) == (None, ["v", None], 7)


def test_result_keeps_stream_key_timestamp_and_headers() -> None:
    with TopologyTestDriver(_app("join", Joined())) as driver:
        driver.input_topic("table", S, S).pipe("k", "row", timestamp=100)
        driver.input_topic("stream", S, S).pipe("k", "v", timestamp=5, headers=[("h", b"1")])
        (record,) = driver.output_topic("out", S, J).read_records()
    assert (record.key, record.value, record.timestamp) == ("k", ["v", "row"], 5)
    assert record.headers == (("h", b"1"),)


def _failing(stream_value: Any, table_value: Any) -> Any:
    if stream_value == "bad":
        raise ValueError("cannot join bad")
    return [stream_value, table_value]


def test_joiner_error_fails_with_record_location() -> None:
    with TopologyTestDriver(_app("left_join", _failing)) as driver:
        stream = driver.input_topic("stream", S, S)
        stream.pipe("k", "ok")
        with pytest.raises(ProcessingError, match="cannot join bad") as caught:
            stream.pipe("k", "bad")
    error = caught.value
    assert (error.topic, error.partition, error.offset) == ("stream", 0, 1)
    assert error.function is not None and error.function.endswith("_failing")


def test_joiner_error_follows_continue_policy() -> None:
    config = AppConfig("st-join", errors=ErrorPolicies(processing=ErrorPolicy.CONTINUE))
    with TopologyTestDriver(_app("left_join", _failing), config) as driver:
        driver.input_topic("stream", S, S).pipe_many([("k", "bad"), ("k", "ok")])
        assert driver.output_topic("out", S, J).read_values() == [["ok", None]]
        assert driver._tasks[0].skipped == 1


def test_join_of_filtered_table_reads_its_materialized_rows() -> None:
    app = sl.App("st-filtered")
    stream = app.stream("stream", key_serde=S, value_serde=S)
    table = app.table("table", name="table", key_serde=S, value_serde=S)
    big = table.filter(lambda _k, v: v.isupper())
    stream.join(big, lambda s, t: f"{s}+{t}", name="enrich").to("out", value_serde=S)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("table", S, S).pipe_many([("a", "X"), ("b", "y"), ("c", "Z")])
        driver.input_topic("table", S, S).pipe("c", "z")  # no longer matches: deleted
        driver.input_topic("stream", S, S).pipe_many([("a", "1"), ("b", "2"), ("c", "3")])
        assert driver.output_topic("out", S, S).read_key_values() == [("a", "1+X")]
        assert sorted(driver.store("enrich-table").all()) == [("a", "X")]


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["stream", "table"]),
        st.sampled_from(["k1", "k2"]),
        st.one_of(st.none(), st.sampled_from(["a", "b"])),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(method=st.sampled_from(sorted(CELLS)), events=EVENTS)
def test_each_stream_record_meets_the_current_row(
    method: str, events: list[tuple[str, str, str | None]]
) -> None:
    """Any interleaving: a stream record with a value comes out joined with the table's
    current row of its key (inner: only if there is one); nothing else comes out."""
    table: dict[str, str] = {}
    expected: list[tuple[str, list[Any]]] = []
    with TopologyTestDriver(_app(method, Joined())) as driver:
        inputs = {side: driver.input_topic(side, S, S) for side in ("stream", "table")}
        for side, key, value in events:
            inputs[side].pipe(key, value)
            if side == "table":
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
            elif value is not None and (key in table or method == "left_join"):
                expected.append((key, [value, table.get(key)]))
        assert driver.output_topic("out", S, J).read_key_values() == expected
