"""Typed node of the stream-stream join (inert data; ``runtime/ops/stream_join.py`` runs it).

A join is two side nodes and a merge, as in Kafka Streams: the left side node reads the left
stream, the right side node the right one; both use the same three stores (the left and right
buffers, and for left/outer joins the store of unmatched records), which puts them in one
sub-topology, and both feed the merge named after the join.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.topology.nodes import ProcessorNode
from streamlet.topology.windows import JoinWindows

Joiner = Callable[[Any, Any], Any]
"""``joiner(left_value, right_value) -> joined value``; None stands for a missing side."""


class JoinKind(enum.Enum):
    INNER = "inner"
    LEFT = "left"
    OUTER = "outer"

    def keeps_unmatched(self, side: int) -> bool:
        """Whether unmatched records of ``side`` (0 left, 1 right) come out with a None."""
        return self is JoinKind.OUTER or (self is JoinKind.LEFT and side == 0)


LEFT, RIGHT = 0, 1


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
