"""``App.global_table`` and the global joins as inert topology: naming, checks, describe()."""

from __future__ import annotations

import pytest

import streamlet as sl
from streamlet.errors import TopologyError
from streamlet.topology.global_nodes import GlobalJoinNode


def _joiner(v: object, row: object) -> object:
    return row


def test_global_table_is_described_as_a_global_store_and_makes_no_task() -> None:
    app = sl.App("g")
    users = app.global_table("users-topic", name="users")
    app.stream("orders").left_join(users, _joiner, name="enrich").to("out")
    topology = app.topology()
    assert [sub.source_topics for sub in topology.subtopologies] == [("orders",)]
    assert topology.source_topics() == ["orders"]  # the worker does not subscribe to it
    assert isinstance(topology.nodes["enrich"], GlobalJoinNode)
    text = app.describe()
    assert "Processor: enrich (left join with global table users)" in text
    assert "Global store: users (will not generate tasks)" in text
    assert "Source: users-global-source (topics: [users-topic])" in text


def test_global_join_refuses_windows_outer_join_and_another_apps_table() -> None:
    app, other = sl.App("g"), sl.App("h")
    users = app.global_table("users", name="users")
    orders = app.stream("orders")
    with pytest.raises(TopologyError, match="no windows"):
        orders.join(users, _joiner, windows=object())
    with pytest.raises(TopologyError, match="outer_join"):
        orders.outer_join(users, _joiner)
    with pytest.raises(TopologyError, match="same App"):
        other.stream("x").join(users, _joiner)


def test_global_table_topic_read_twice_is_refused() -> None:
    app = sl.App("g")
    app.global_table("users", name="users")
    app.stream("users").to("out")
    with pytest.raises(TopologyError, match="already read"):
        app.topology()


def test_global_table_name_shared_with_a_store_is_refused() -> None:
    app = sl.App("g")
    app.global_table("users", name="users")
    with pytest.raises(TopologyError, match="declared twice"):
        app.stream("orders").to_table("users")
    with pytest.raises(TopologyError, match="needs a name"):
        app.global_table("t", name="")


def test_global_table_is_drawn_as_a_store_fed_by_its_topic_and_read_by_the_join() -> None:
    from streamlet.topology.render import to_dot, to_mermaid

    app = sl.App("g")
    users = app.global_table("users-topic", name="users")
    app.stream("orders").join(users, _joiner, name="enrich").to("out")
    mermaid = to_mermaid(app.topology())
    assert '[("users<br/>global store")]' in mermaid
    assert '("enrich<br/>join with global table users")' in mermaid
    dot = to_dot(app.topology())
    assert 'label="users\\nglobal store", shape=cylinder' in dot
    topic, join, store = (  # in the order dot lists them: topics, nodes, stores
        line.split()[0]
        for line in dot.splitlines()
        if "global store" in line or '"users-topic"' in line or '"enrich\\n' in line
    )
    assert f"  {topic} -> {store};" in dot and f"  {store} -> {join};" in dot
