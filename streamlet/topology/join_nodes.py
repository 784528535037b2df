"""Typed nodes of the joins (inert data; the runtime compiles them by node type, see
``streamlet.runtime.ops.COMPILERS``).

A stream-stream join is two side nodes and a merge, as in Kafka Streams: the left side node
reads the left stream, the right side node the right one; both use the same three stores (the
left and right buffers, and for left/outer joins the store of unmatched records), which puts
them in one sub-topology, and both feed the merge named after the join. A stream-table join is
one node reading the table's store; a table-table join is one node per side.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.topology.nodes import ProcessorNode
from streamlet.topology.windows import JoinWindows

Joiner = Callable[[Any, Any], Any]
"""``joiner(left_value, right_value) -> joined value``; a missing side is None."""


class JoinKind(enum.Enum):
    """Which unmatched rows still produce a result: none, the left side's, or both sides'."""

    INNER = "inner"
    LEFT = "left"
    OUTER = "outer"

    def keeps_unmatched(self, side: int) -> bool:
        """Whether unmatched records of ``side`` (0 left, 1 right) come out with a None."""
        return self is JoinKind.OUTER or (self is JoinKind.LEFT and side == 0)


LEFT, RIGHT = 0, 1


@dataclass(frozen=True, kw_only=True)
class StreamTableJoinNode(ProcessorNode):
    """Look each stream record's key up in ``table_store``; table updates never reach this
    node (its only parent is the stream), so only stream records trigger the join."""

    kind: JoinKind
    joiner: Joiner
    table_store: str

    def describe(self) -> str:
        return f"stream-table {self.kind.value} join with table store {self.table_store!r}"


@dataclass(frozen=True, kw_only=True)
class TableTableJoinNode(ProcessorNode):
    """One side of a table-table equi-join: a change of this side's table (``this_store``)
    is joined with the current row of ``other_store``; the result row is kept in
    ``result_store``. ``this_is_left`` orders the joiner's arguments."""

    kind: JoinKind
    joiner: Joiner
    this_is_left: bool
    this_store: str
    other_store: str
    result_store: str

    def describe(self) -> str:
        side = "left" if self.this_is_left else "right"
        return (
            f"table-table {self.kind.value} join, {side} side: {self.this_store!r} "
            f"with {self.other_store!r} into {self.result_store!r}"
        )


@dataclass(frozen=True, kw_only=True)
class StreamJoinNode(ProcessorNode):
    """One side of a windowed stream-stream join: buffers its records in ``stores[side]``
    and joins each with the other side's buffered records of the same key."""

    join: str  # the join's name: both sides of one task share its stream time
    side: int  # LEFT or RIGHT
    kind: JoinKind
    windows: JoinWindows
    joiner: Joiner
    left_store: str
    right_store: str
    outer_store: str | None

    def describe(self) -> str:
        w = self.windows
        side = "left" if self.side == LEFT else "right"
        return (
            f"stream-stream {self.kind.value} join ({side} side), "
            f"time_difference={w.time_difference_ms}ms, grace={w.grace_ms}ms"
        )
