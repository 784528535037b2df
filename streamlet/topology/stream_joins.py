"""The stream-stream join DSL: ``Stream.join/left_join/outer_join(other_stream, joiner,
windows=sl.JoinWindows(...), name=...)`` (semantics in ``runtime/ops/stream_join.py``).

Names derive from ``name``: the stores ``<name>-left-store``, ``<name>-right-store`` and, for
left and outer joins, ``<name>-outer-store`` (changelogs ``<app>-<store>-changelog``,
``compact,delete``, retention = both windows + grace, plus a day); the side nodes
``<name>-left`` and ``<name>-right``; the merged output ``<name>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamlet.errors import TopologyError
from streamlet.serde import Bytes
from streamlet.topology.join_nodes import LEFT, RIGHT, Joiner, JoinKind, StreamJoinNode
from streamlet.topology.windows import JoinWindows

if TYPE_CHECKING:
    from streamlet.topology.stream import Stream


def join_streams(
    left: Stream,
    right: Stream,
    joiner: Joiner,
    kind: JoinKind,
    *,
    windows: JoinWindows | None,
    key_mapper: Any,
    name: str | None,
) -> Stream:
    from streamlet.topology.stream import Stream  # the handle type this returns

    what = f"a stream-stream {kind.value} join"
    b = left._builder
    if right._builder is not b:
        raise TopologyError(f"{what} takes two streams of the same App")
    b.require_name(name, what)
    assert name is not None
    if not isinstance(windows, JoinWindows):
        raise TopologyError(
            f"{what} {name!r} needs windows=sl.JoinWindows(time_difference_ms, grace_ms), "
            f"not {windows!r}"
        )
    if key_mapper is not None:
        raise TopologyError(f"{what} {name!r} joins on the key: key_mapper is for global tables")
    if not callable(joiner):
        raise TopologyError(f"{what} {name!r}: the joiner must be a function (left, right)")
    left._require_partitioned(f"{what} ({name!r}, left side)")
    right._require_partitioned(f"{what} ({name!r}, right side)")
    key_serde, left_values = left._serdes()
    _, right_values = right._serdes()
    # a side buffer holds records for both windows around a record plus the grace
    retention = 2 * windows.time_difference_ms + windows.grace_ms
    stores = [f"{name}-left-store", f"{name}-right-store"]
    b.add_store(stores[0], key_serde, left_values, kind="join", retention_ms=retention)
    b.add_store(stores[1], key_serde, right_values, kind="join", retention_ms=retention)
    outer = None
    if kind is not JoinKind.INNER:
        outer = f"{name}-outer-store"
        b.add_store(outer, key_serde, Bytes(), kind="join_outer", retention_ms=retention)
        stores.append(outer)
    sides = []
    for side, parent in ((LEFT, left.node), (RIGHT, right.node)):
        node = StreamJoinNode(
            f"{name}-{'left' if side == LEFT else 'right'}",
            (parent,),
            op="stream_join",
            stores=tuple(stores),
            join=name,
            side=side,
            kind=kind,
            windows=windows,
            joiner=joiner,
            left_store=stores[0],
            right_store=stores[1],
            outer_store=outer,
        )
        sides.append(b.add(node))
    merged = b.add_processor("merge", sides, name=name)
    return Stream(b, merged, left.key_serde, None)
