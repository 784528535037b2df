"""The stream-stream join DSL: typed side nodes in one sub-topology with both sources, named
windowed stores with time-bounded changelogs, ``describe()``, and the build-time errors."""

from __future__ import annotations

from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import TopicInfo
from streamlet.runtime.topics import prepare_topics
from streamlet.topology.join_nodes import JoinKind, StreamJoinNode

S = serde.String()
DAY = 24 * 60 * 60 * 1000


def _streams(app: sl.App) -> tuple[sl.Stream, sl.Stream]:
    return (
        app.stream("left", key_serde=S, value_serde=S),
        app.stream("right", key_serde=S, value_serde=serde.Json()),
    )


def _joiner(left: Any, right: Any) -> Any:
    return (left, right)


def test_outer_join_builds_two_typed_sides_and_three_stores_in_one_subtopology() -> None:
    app = sl.App("japp")
    left, right = _streams(app)
    left.outer_join(right, _joiner, windows=sl.JoinWindows(5_000, grace_ms=1_000), name="j").to(
        "out"
    )
    topology = app.topology()
    sides = [topology.nodes["j-left"], topology.nodes["j-right"]]
    assert all(isinstance(n, StreamJoinNode) and n.kind is JoinKind.OUTER for n in sides)
    (sub,) = topology.subtopologies
    assert sorted(sub.source_topics) == ["left", "right"]
    assert sub.stores == ("j-left-store", "j-right-store", "j-outer-store")
    for store in sub.stores:
        spec = topology.stores[store]
        assert spec.retention_ms == 11_000  # both windows + grace
        topic = topology.internal_topics[f"japp-{store}-changelog"]
        assert dict(topic.config) == {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(11_000 + DAY),
        }


def test_inner_join_has_no_outer_store() -> None:
    app = sl.App("japp")
    left, right = _streams(app)
    left.join(right, _joiner, windows=sl.JoinWindows(10), name="j").to("out")
    assert sorted(app.topology().stores) == ["j-left-store", "j-right-store"]


def test_describe_shows_the_join_sides_and_their_stores() -> None:
    app = sl.App("japp")
    left, right = _streams(app)
    left.left_join(right, _joiner, windows=sl.JoinWindows(100, grace_ms=5), name="j").to("out")
    text = app.topology().describe()
    assert (
        "Processor: j-left (stream-stream left join (left side), time_difference=100ms, "
        "grace=5ms)" in text
    )
    assert "Processor: j-right (stream-stream left join (right side)" in text
    assert "stores: [j-left-store, j-right-store, j-outer-store]" in text
    assert (
        "j-outer-store [join_outer, retention=205ms] (changelog: japp-j-outer-store-changelog)"
        in text
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"windows": sl.JoinWindows(10)}, "needs a name="),
        ({"name": "j"}, "needs windows=sl.JoinWindows"),
        ({"name": "j", "windows": sl.TumblingWindows(10)}, "needs windows=sl.JoinWindows"),
        (
            {"name": "j", "windows": sl.JoinWindows(10), "key_mapper": lambda k, v: k},
            "key_mapper",
        ),
    ],
)
def test_join_without_name_or_join_windows_is_a_topology_error(
    kwargs: dict[str, Any], match: str
) -> None:
    app = sl.App("japp")
    left, right = _streams(app)
    with pytest.raises(sl.TopologyError, match=match):
        left.join(right, _joiner, **kwargs)


def test_join_after_a_key_change_needs_a_repartition() -> None:
    app = sl.App("japp")
    left, right = _streams(app)
    rekeyed = left.select_key(lambda k, v: v)
    with pytest.raises(sl.TopologyError, match=r"left side.*repartition"):
        rekeyed.join(right, _joiner, windows=sl.JoinWindows(10), name="j")
    moved = rekeyed.repartition("by-value")
    moved.join(right, _joiner, windows=sl.JoinWindows(10), name="j").to("out")
    assert len(app.topology().subtopologies) == 2


def test_join_with_an_unsupported_type_is_a_topology_error() -> None:
    app = sl.App("japp")
    left, _ = _streams(app)
    with pytest.raises(sl.TopologyError, match="not a int"):
        left.outer_join(42, _joiner, windows=sl.JoinWindows(10), name="j")


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_invalid_join_windows_raise_topology_error(bad: Any) -> None:
    with pytest.raises(sl.TopologyError, match="time_difference_ms"):
        sl.JoinWindows(bad)
    with pytest.raises(sl.TopologyError, match="grace_ms"):
        sl.JoinWindows(10, grace_ms=bad)


class _Admin:
    """Topic metadata only: what ``prepare_topics`` asks before creating internal topics."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = partitions
        self.created: list[str] = []

    def describe(self, topics: list[str]) -> dict[str, TopicInfo | None]:
        return {
            t: TopicInfo(t, self.partitions[t]) if t in self.partitions else None for t in topics
        }

    def ensure_topic(self, name: str, partitions: int, config: Any, rf: int) -> None:
        self.created.append(name)


def test_join_of_topics_with_different_partition_counts_fails_at_start() -> None:
    app = sl.App("japp")
    left, right = _streams(app)
    left.join(right, _joiner, windows=sl.JoinWindows(10), name="j").to("out")
    admin = _Admin({"left": 3, "right": 2, "out": 3})
    with pytest.raises(sl.TopologyError, match="left=3, right=2"):
        prepare_topics(admin, app.topology())  # type: ignore[arg-type]
    assert admin.created == []  # nothing created before the check
