"""The windowed DSL builds typed nodes, windowed stores with time-bounded changelogs, and
``describe()`` says what each windowed operator is."""

from __future__ import annotations

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.topology.window_nodes import (
    SessionAggregateNode,
    SlidingAggregateNode,
    WindowAggregateNode,
)

S = serde.String()
DAY = 24 * 60 * 60 * 1000


def _app() -> sl.App:
    app = sl.App("wapp")
    grouped = app.stream("in", key_serde=S, value_serde=S).group_by_key()
    grouped.windowed_by(
        sl.TumblingWindows(60_000, grace_ms=5_000), emit=sl.Emit.ON_WINDOW_CLOSE
    ).count("per-minute")
    grouped.windowed_by(sl.HoppingWindows(60_000, 10_000)).count("hopping", retention_ms=DAY)
    grouped.windowed_by(sl.SessionWindows(30_000, grace_ms=1_000)).count("sessions")
    grouped.windowed_by(sl.SlidingWindows(5_000)).count("sliding")
    return app


def test_windowed_operators_are_typed_nodes() -> None:
    nodes = _app().topology().nodes
    assert isinstance(nodes["per-minute"], WindowAggregateNode)
    assert isinstance(nodes["hopping"], WindowAggregateNode)
    assert isinstance(nodes["sessions"], SessionAggregateNode)
    assert isinstance(nodes["sliding"], SlidingAggregateNode)


def test_windowed_changelogs_are_compact_delete_with_retention_plus_a_day() -> None:
    topology = _app().topology()
    want = {"per-minute": 65_000, "hopping": DAY, "sessions": 31_000, "sliding": 5_000}
    for store, retention in want.items():
        assert topology.stores[store].retention_ms == retention
        config = dict(topology.internal_topics[f"wapp-{store}-changelog"].config)
        assert config == {"cleanup.policy": "compact,delete", "retention.ms": str(retention + DAY)}


def test_describe_shows_window_kind_size_grace_emit_and_store() -> None:
    text = _app().topology().describe()
    assert (
        "Processor: per-minute (tumbling window aggregate, size=60000ms, advance=60000ms, "
        "grace=5000ms, emit=ON_WINDOW_CLOSE)" in text
    )
    assert "Processor: sessions (session window aggregate, gap=30000ms, grace=1000ms," in text
    assert "Processor: sliding (sliding window aggregate, time_difference=5000ms," in text
    assert "per-minute [window, retention=65000ms] (changelog: wapp-per-minute-changelog)" in text
    assert "sessions [session, retention=31000ms]" in text


def test_windowed_aggregation_needs_a_valid_name() -> None:
    grouped = sl.App("wapp").stream("in").group_by_key()
    with pytest.raises(sl.TopologyError, match="needs a name"):
        grouped.windowed_by(sl.TumblingWindows(10)).count("")


def test_windowed_by_rejects_other_specs_and_emit_values() -> None:
    grouped = sl.App("wapp").stream("in").group_by_key()
    with pytest.raises(sl.TopologyError, match="windowed_by"):
        grouped.windowed_by(60_000)  # type: ignore[arg-type]
    with pytest.raises(sl.TopologyError, match="emit"):
        grouped.windowed_by(sl.TumblingWindows(10), emit="close")  # type: ignore[arg-type]
