"""Table-table equi-joins through the TopologyTestDriver: the Kafka Streams 4.0 docs' table
("Semantics of table-table equi-joins") cell by cell for join, left_join and outer_join,
then the materialized result, ``Change(old, new)`` downstream and a joiner that raises."""

from __future__ import annotations

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
TOMBSTONE = "tombstone"  # the cell "null": a delete is forwarded, the joiner is not called

# (timestamp, side, value) per row of the docs' table, in its order; None is a tombstone
ROWS: list[tuple[int, str, str | None]] = [
    (1, "left", None),
    (2, "right", None),
    (3, "left", "A"),
    (4, "right", "a"),
    (5, "left", "B"),
    (6, "right", "b"),
    (7, "left", None),
    (8, "right", None),
    (9, "left", "C"),
    (10, "right", "c"),
    (11, "right", None),
    (12, "left", None),
    (13, "right", None),
    (14, "right", "d"),
    (15, "left", "D"),
]
Cell = tuple[str | None, str | None] | str
# the non-empty cells per method: joiner arguments, or TOMBSTONE
CELLS: dict[str, dict[int, Cell]] = {
    "join": {4: ("A", "a"), 5: ("B", "a"), 6: ("B", "b"), 7: TOMBSTONE, 10: ("C", "c")}
    | {11: TOMBSTONE, 15: ("D", "d")},
    "left_join": {3: ("A", None), 4: ("A", "a"), 5: ("B", "a"), 6: ("B", "b"), 7: TOMBSTONE}
    | {9: ("C", None), 10: ("C", "c"), 11: ("C", None), 12: TOMBSTONE, 15: ("D", "d")},
    "outer_join": {3: ("A", None), 4: ("A", "a"), 5: ("B", "a"), 6: ("B", "b")}
    | {7: (None, "b"), 8: TOMBSTONE, 9: ("C", None), 10: ("C", "c"), 11: ("C", None)}
    | {12: TOMBSTONE, 14: (None, "d"), 15: ("D", "d")},
}


class Joined:
    """A joiner that remembers its calls; the result carries both arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, left: Any, right: Any) -> list[Any]:
        self.calls.append((left, right))
        return [left, right]


def _app(method: str, joiner: Any) -> sl.App:
    app = sl.App("tt-join")
    left = app.table("left", name="left", key_serde=S, value_serde=S)
    right = app.table("right", name="right", key_serde=S, value_serde=S)
    joined = getattr(left, method)(right, joiner, name="joined")
    joined.to_stream().to("out", value_serde=J)
    return app


@pytest.mark.parametrize(
    ("method", "row"),
    [(method, ts) for method in CELLS for ts, _, _ in ROWS],
    ids=lambda p: str(p),
)
def test_docs_table_cell(method: str, row: int) -> None:
    """Pipe the rows before ``row``, then ``row``: the joiner is called as the cell says (or
    not at all) and its result, a tombstone, or nothing comes out, at the row's timestamp."""
    joiner = Joined()
    with TopologyTestDriver(_app(method, joiner)) as driver:
        inputs = {side: driver.input_topic(side, S, S) for side in ("left", "right")}
        out = driver.output_topic("out", S, J)
        for ts, side, value in ROWS:
            if ts == row:
                joiner.calls.clear()
                out.read_records()
            inputs[side].pipe(KEY, value, timestamp=ts)
            if ts == row:
                break
        records = [(r.key, r.value, r.timestamp) for r in out.read_records()]
        stored = driver.store("joined").get(KEY)
    cell = CELLS[method].get(row)
    if cell is None:
        assert joiner.calls == []
        assert records == []
    elif cell == TOMBSTONE:
        assert joiner.calls == []
        assert records == [(KEY, None, row)]
        assert stored is None
    else:
        assert joiner.calls == [cell]
        assert records == [(KEY, list(cell), row)]
        assert stored == list(cell)  # the result table is materialized under name


def test_docs_table_covers_every_cell() -> None:
    assert len(ROWS) * len(CELLS) == 45


def test_downstream_gets_old_and_new_result() -> None:
    """A count of joined rows per value, over a table group_by: rows that change or leave
    the join are subtracted (the result forwards ``Change(old, new)``)."""
    app = sl.App("tt-change")
    left = app.table("left", name="left", key_serde=S, value_serde=S)
    right = app.table("right", name="right", key_serde=S, value_serde=S)
    joined = left.join(right, lambda lv, rv: f"{lv}{rv}", name="joined", value_serde=S)
    counts = joined.group_by(lambda _k, v: v, name="by-value").count(name="counts")
    counts.to_stream().to("counts", value_serde=serde.Int64())
    with TopologyTestDriver(app) as driver:
        lt, rt = driver.input_topic("left", S, S), driver.input_topic("right", S, S)
        lt.pipe_many([("1", "A"), ("2", "A")])
        rt.pipe_many([("1", "a"), ("2", "a")])  # two rows join as "Aa"
        rt.pipe("1", "b")  # row 1 moves from "Aa" to "Ab"
        lt.pipe("2", None)  # row 2 leaves the join
        assert dict(driver.store("counts").all()) == {"Aa": 0, "Ab": 1}
        assert dict(driver.store("joined").all()) == {"1": "Ab"}


def test_join_of_derived_tables_materializes_them() -> None:
    app = sl.App("tt-derived")
    left = app.table("left", name="left", key_serde=S, value_serde=S).map_values(str.upper)
    right = app.table("right", name="right", key_serde=S, value_serde=S)
    left.left_join(right.filter(lambda _k, v: v != "skip"), lambda a, b: [a, b], name="j")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("right", S, S).pipe_many([("x", "1"), ("y", "skip")])
        driver.input_topic("left", S, S).pipe_many([("x", "a"), ("y", "b")])
        assert dict(driver.store("j").all()) == {"x": ["A", "1"], "y": ["B", None]}
        assert dict(driver.store("j-left").all()) == {"x": "A", "y": "B"}
        assert dict(driver.store("j-right").all()) == {"x": "1"}


def _failing(left: Any, right: Any) -> Any:
    if right == "bad":
        raise ValueError("cannot join bad")
    return [left, right]


def test_joiner_error_fails_with_record_location() -> None:
    with TopologyTestDriver(_app("join", _failing)) as driver:
        driver.input_topic("left", S, S).pipe("k", "A")
        with pytest.raises(ProcessingError, match="cannot join bad") as caught:
            driver.input_topic("right", S, S).pipe("k", "bad")
        assert driver.store("joined").get("k") is None  # the failed record's write aborted
    error = caught.value
    assert (error.topic, error.partition, error.offset) == ("right", 0, 0)
    assert error.function is not None and error.function.endswith("_failing")


def test_joiner_error_follows_continue_policy() -> None:
    config = AppConfig("tt-join", errors=ErrorPolicies(processing=ErrorPolicy.CONTINUE))
    with TopologyTestDriver(_app("outer_join", _failing), config) as driver:
        driver.input_topic("right", S, S).pipe_many([("k", "bad"), ("j", "ok")])
        assert driver.output_topic("out", S, J).read_key_values() == [("j", [None, "ok"])]


def _model_row(method: str, left: str | None, right: str | None) -> list[Any] | None:
    keeps = {
        "join": left is not None and right is not None,
        "left_join": left is not None,
        "outer_join": left is not None or right is not None,
    }[method]
    return [left, right] if keeps else None


CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["left", "right"]),
        st.sampled_from(["k1", "k2"]),
        st.one_of(st.none(), st.sampled_from(["a", "b"])),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(method=st.sampled_from(sorted(CELLS)), changes=CHANGES)
def test_result_follows_join_of_current_rows(
    method: str, changes: list[tuple[str, str, str | None]]
) -> None:
    """After every change: the result store holds the join of the two tables' current rows,
    and the change forwarded the new result row, a tombstone for a row that went, or nothing
    when the key had and has no result row (or the change deleted a row that was not there)."""
    tables: dict[str, dict[str, str]] = {"left": {}, "right": {}}
    with TopologyTestDriver(_app(method, Joined())) as driver:
        inputs = {side: driver.input_topic(side, S, S) for side in tables}
        out = driver.output_topic("out", S, J)
        for side, key, value in changes:
            before = _model_row(method, tables["left"].get(key), tables["right"].get(key))
            # deleting a row that is not there changes no table: the table forwards nothing
            noop = value is None and key not in tables[side]
            if value is None:
                tables[side].pop(key, None)
            else:
                tables[side][key] = value
            after = _model_row(method, tables["left"].get(key), tables["right"].get(key))
            inputs[side].pipe(key, value)
            emitted = out.read_key_values()
            silent = noop or (before is None and after is None)
            assert emitted == ([] if silent else [(key, after)])
            assert driver.store("joined").get(key) == after
