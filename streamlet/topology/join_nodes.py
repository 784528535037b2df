"""Typed nodes of the stream-table and table-table joins (inert data; the runtime compiles
them by node type, see ``streamlet.runtime.ops.COMPILERS``)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.topology.nodes import ProcessorNode

Joiner = Callable[[Any, Any], Any]
"""``joiner(left_value, right_value) -> joined value``; a missing side is None."""


class JoinKind(enum.Enum):
    """Which unmatched rows still produce a result: none, the left side's, or both sides'."""

    INNER = "inner"
    LEFT = "left"
    OUTER = "outer"


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
