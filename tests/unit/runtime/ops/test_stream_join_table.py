"""The KStream-KStream join table of the Kafka 4.0 Streams developer guide (``dsl-api``,
"Semantics of stream-stream joins"), cell by cell, through the TopologyTestDriver.

The table's timestamps are seconds; every record has the same key. Its rows 1-15 assume all
records share one join window (the older guide says so; [A, d] and [D, a] are 11 s apart),
while rows 40-100 use a 10 s window with 5 s grace. A time difference of 11 s with 4 s grace
satisfies both: every record of rows 1-15 is within 11 s of every other, and a record's
window closes 15 s after it, as in the table. ``test_docs_window_of_10s_...`` runs the table
with the stated 10 s / 5 s and checks the two pairs 11 s apart do not join.
"""

from __future__ import annotations

from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S = serde.String()

# (timestamp in s, side, value); None is a null value
TABLE: list[tuple[int, str, str | None]] = [
    (1, "L", None),
    (2, "R", None),
    (3, "L", "A"),
    (4, "R", "a"),
    (5, "L", "B"),
    (6, "R", "b"),
    (7, "L", None),
    (8, "R", None),
    (9, "L", "C"),
    (10, "R", "c"),
    (11, "R", None),
    (12, "L", None),
    (13, "R", None),
    (14, "R", "d"),
    (15, "L", "D"),
    (40, "L", "E"),
    (60, "L", "F"),
    (80, "R", "f"),
    (100, "L", "G"),
]

INNER: dict[int, list[str]] = {
    4: ["[A, a]"],
    5: ["[B, a]"],
    6: ["[A, b]", "[B, b]"],
    9: ["[C, a]", "[C, b]"],
    10: ["[A, c]", "[B, c]", "[C, c]"],
    14: ["[A, d]", "[B, d]", "[C, d]"],
    15: ["[D, a]", "[D, b]", "[D, c]", "[D, d]"],
}
LEFT = {**INNER, 60: ["[E, null]"], 80: ["[F, null]"]}
OUTER = {**LEFT, 100: ["[null, f]"]}
EXPECTED = {"join": INNER, "left_join": LEFT, "outer_join": OUTER}


def show(left: Any, right: Any) -> str:
    return f"[{'null' if left is None else left}, {'null' if right is None else right}]"


def run_table(method: str, windows: sl.JoinWindows) -> dict[int, list[str]]:
    """The join's output per input row (keyed by the row's timestamp, in seconds)."""
    app = sl.App("docs")
    left = app.stream("left", key_serde=S, value_serde=S)
    right = app.stream("right", key_serde=S, value_serde=S)
    getattr(left, method)(right, show, windows=windows, name="j").to("out", value_serde=S)
    got: dict[int, list[str]] = {}
    with TopologyTestDriver(app) as driver:
        topics = {"L": driver.input_topic("left", S, S), "R": driver.input_topic("right", S, S)}
        out = driver.output_topic("out", S, S)
        for second, side, value in TABLE:
            topics[side].pipe("k", value, second * 1000)
            values = [v for _, v in out.read_key_values()]
            if values:
                got[second] = values
    return got


@pytest.mark.parametrize("method", ["join", "left_join", "outer_join"])
def test_docs_table_every_cell(method: str) -> None:
    assert run_table(method, sl.JoinWindows(11_000, grace_ms=4_000)) == EXPECTED[method]


@pytest.mark.parametrize("method", ["join", "left_join", "outer_join"])
def test_docs_window_of_10s_keeps_11s_apart_records_unjoined(method: str) -> None:
    want = {
        t: [c for c in cells if c not in ("[A, d]", "[D, a]")]
        for t, cells in EXPECTED[method].items()
    }
    assert run_table(method, sl.JoinWindows(10_000, grace_ms=5_000)) == want
