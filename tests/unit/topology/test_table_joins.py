"""The join DSL of streams and tables: what it builds (one sub-topology per join, typed
nodes, named stores, describe()) and what it refuses, at build time."""

from __future__ import annotations

from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.errors import TopologyError
from streamlet.kafka.admin import TopicInfo
from streamlet.runtime.topics import prepare_topics
from streamlet.topology.join_nodes import JoinKind, StreamTableJoinNode, TableTableJoinNode

S = serde.String()


def _pair(app_id: str = "j") -> tuple[sl.App, sl.Stream, sl.Table]:
    app = sl.App(app_id)
    stream = app.stream("views", key_serde=S, value_serde=S)
    table = app.table("users", name="users", key_serde=S, value_serde=S)
    return app, stream, table


def _pairing(left: Any, right: Any) -> Any:
    return [left, right]


def test_stream_table_join_runs_stream_and_table_in_one_subtopology() -> None:
    app, stream, table = _pair()
    stream.left_join(table, _pairing, name="enrich").to("out")
    topology = app.topology()
    (sub,) = topology.subtopologies
    assert sorted(sub.source_topics) == ["users", "views"]
    node = topology.nodes["enrich"]
    assert isinstance(node, StreamTableJoinNode)
    assert (node.kind, node.table_store, node.stores) == (JoinKind.LEFT, "users", ("users",))
    assert node.parents == (stream.node,)  # table updates never reach the join


def test_table_table_join_names_result_store_and_side_nodes() -> None:
    app = sl.App("tt")
    left = app.table("l", name="l", key_serde=S, value_serde=S)
    right = app.table("r", name="r", key_serde=S, value_serde=S)
    joined = left.outer_join(right, _pairing, name="both")
    assert (joined.store, joined.node) == ("both", "both")
    topology = app.topology()
    (sub,) = topology.subtopologies
    assert sorted(sub.source_topics) == ["l", "r"]
    assert topology.stores["both"].changelog == "tt-both-changelog"
    sides = [n for n in topology.nodes.values() if isinstance(n, TableTableJoinNode)]
    assert [(n.name, n.this_is_left, n.other_store) for n in sides] == [
        ("both-join-left", True, "r"),
        ("both-join-right", False, "l"),
    ]


def test_describe_shows_join_nodes() -> None:
    app, stream, table = _pair()
    stream.join(table, _pairing, name="enrich").to("out")
    other = app.table("groups", name="groups", key_serde=S, value_serde=S)
    table.left_join(other, _pairing, name="user-groups")
    text = app.describe()
    assert "Processor: enrich (stream-table inner join with table store 'users')" in text
    assert "user-groups-join-left (table-table left join, left side: 'users' with 'groups'" in text
    assert "user-groups (changelog: j-user-groups-changelog)" in text


def test_stream_outer_join_with_table_raises() -> None:
    _, stream, table = _pair()
    with pytest.raises(TopologyError, match=r"outer_join.*left_join"):
        stream.outer_join(table, _pairing)


def test_stream_table_join_after_key_change_raises_until_repartitioned() -> None:
    _, stream, table = _pair()
    rekeyed = stream.select_key(lambda _k, v: v)
    with pytest.raises(TopologyError, match=r"changed the key.*repartition\(name\)"):
        rekeyed.join(table, _pairing)
    rekeyed.repartition("by-user", key_serde=S).join(table, _pairing)


def test_stream_join_with_a_non_joinable_is_a_topology_error() -> None:
    _, stream, _ = _pair()
    with pytest.raises(TopologyError, match="not a int"):
        stream.join(42, _pairing, name="x")  # type: ignore[arg-type]


def test_table_foreign_key_join_is_two_subtopologies_linked_by_two_internal_topics() -> None:
    app, _, table = _pair()
    other = app.table("groups", name="groups", key_serde=S, value_serde=S)
    table.join(other, _pairing, foreign_key=lambda v: v, name="fk")
    topology = app.topology()
    registration = f"{app.application_id}-fk-subscription-registration-topic"
    response = f"{app.application_id}-fk-subscription-response-topic"
    assert {registration, response} <= set(topology.internal_topics)
    readers = topology.subtopology_of_topic()
    # the right table's task reads the subscriptions; the left table's reads the answers
    assert readers[registration] is readers["groups"]
    assert readers[response] is not readers["groups"]
    assert "fk-subscription-store" in readers["groups"].stores


def test_table_table_join_needs_a_name() -> None:
    app, _, table = _pair()
    other = app.table("groups", name="groups", key_serde=S, value_serde=S)
    with pytest.raises(TopologyError, match="needs a name="):
        table.join(other, _pairing)


def test_table_join_with_a_stream_raises() -> None:
    _, stream, table = _pair()
    with pytest.raises(TopologyError, match="joins another Table, not a Stream"):
        table.join(stream, _pairing, name="x")  # type: ignore[arg-type]


def test_join_across_apps_raises() -> None:
    _, stream, _ = _pair("a")
    _, _, table = _pair("b")
    with pytest.raises(TopologyError, match="same App"):
        stream.join(table, _pairing)


def test_join_with_uncallable_joiner_raises() -> None:
    _, stream, table = _pair()
    with pytest.raises(TopologyError, match="joiner must be a function"):
        stream.join(table, "not a function")  # type: ignore[arg-type]


def test_join_of_windowed_table_raises() -> None:
    app, stream, _ = _pair()
    windowed = stream.group_by_key().windowed_by(sl.TumblingWindows(1_000)).count("per-second")
    other = app.table("groups", name="groups", key_serde=S, value_serde=S)
    with pytest.raises(TopologyError, match="windowed table"):
        windowed.join(other, _pairing, name="x")


def test_stream_join_of_unmaterialized_table_needs_a_name() -> None:
    _, stream, table = _pair()
    with pytest.raises(TopologyError, match=r"not materialized.*name="):
        stream.join(table.filter(lambda _k, v: bool(v)), _pairing)


class _Admin:
    """The two calls ``prepare_topics`` makes, over fixed partition counts."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = partitions
        self.created: dict[str, int] = {}

    def describe(self, topics: list[str]) -> dict[str, TopicInfo | None]:
        return {
            t: TopicInfo(t, self.partitions[t]) if t in self.partitions else None for t in topics
        }

    def ensure_topic(self, name: str, partitions: int, config: Any, rf: int = -1) -> None:
        self.created[name] = partitions


def test_start_refuses_join_of_topics_with_different_partition_counts() -> None:
    app, stream, table = _pair()
    stream.join(table, _pairing).to("out")
    admin = _Admin({"views": 3, "users": 2, "out": 1})
    with pytest.raises(TopologyError, match="different partition counts: views=3, users=2"):
        prepare_topics(admin, app.topology())  # type: ignore[arg-type]
    admin.partitions["users"] = 3
    counts = prepare_topics(admin, app.topology())  # type: ignore[arg-type]
    assert counts["j-users-changelog"] == 3


def test_start_refuses_join_after_repartition_to_another_count() -> None:
    app, stream, table = _pair()
    moved = stream.select_key(lambda _k, v: v).repartition("by-user", partitions=4, key_serde=S)
    moved.join(table, _pairing).to("out")
    admin = _Admin({"views": 3, "users": 2, "out": 1})
    with pytest.raises(TopologyError, match="users=2, j-by-user-repartition=4"):
        prepare_topics(admin, app.topology())  # type: ignore[arg-type]


def test_start_sizes_unsized_repartition_topic_like_the_table_it_joins() -> None:
    app, stream, table = _pair()
    moved = stream.select_key(lambda _k, v: v).repartition("by-user", key_serde=S)
    moved.join(table, _pairing).to("out")
    admin = _Admin({"views": 3, "users": 2, "out": 1})
    counts = prepare_topics(admin, app.topology())  # type: ignore[arg-type]
    assert admin.created["j-by-user-repartition"] == 2
    assert counts["j-users-changelog"] == 2


def test_join_of_sides_with_different_key_serdes_raises() -> None:
    _, stream, table = _pair()
    moved = stream.select_key(lambda _k, v: v).repartition("by-user", key_serde=serde.Json())
    with pytest.raises(TopologyError, match="equal keys land in different partitions"):
        moved.join(table, _pairing)
    stream.select_key(lambda _k, v: v).repartition("by-user2", key_serde=S).join(table, _pairing)


@pytest.mark.parametrize("option", ["windows", "key_mapper"])
def test_stream_table_join_with_windows_or_key_mapper_raises(option: str) -> None:
    _, stream, table = _pair()
    value: Any = sl.TumblingWindows(1_000) if option == "windows" else (lambda k, _v: k)
    with pytest.raises(TopologyError, match="takes no windows= or key_mapper="):
        stream.join(table, _pairing, **{option: value})
