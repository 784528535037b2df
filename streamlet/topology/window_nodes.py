"""Typed nodes of the windowed aggregations (inert data; the runtime compiles them).

Each is a ``ProcessorNode`` (so the graph, sub-topology and store checks see it like any
operator) with typed fields instead of a string ``op`` and an untyped ``fn``; the runtime
finds its compile function by node type in ``streamlet.runtime.ops.COMPILERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.serde import Serde
from streamlet.topology.nodes import ProcessorNode
from streamlet.topology.windows import (
    Emit,
    FixedWindows,
    SessionWindows,
    SlidingWindows,
)

Initializer = Callable[[], Any]
Aggregator = Callable[[Any, Any, Any], Any]
"""``aggregator(key, value, aggregate) -> new aggregate``."""
Merger = Callable[[Any, Any, Any], Any]
"""``merger(key, aggregate1, aggregate2) -> merged aggregate`` (sessions)."""


@dataclass(frozen=True, kw_only=True)
class WindowAggregateNode(ProcessorNode):
    """Aggregate each record into every tumbling or hopping window it falls in."""

    windows: FixedWindows
    emit: Emit
    initializer: Initializer
    aggregator: Aggregator
    store: str
    retention_ms: int

    def describe(self) -> str:
        w = self.windows
        return (
            f"{w.kind} window aggregate, size={w.size_ms}ms, advance={w.advance_ms}ms, "
            f"grace={w.grace_ms}ms, emit={self.emit.name}"
        )


@dataclass(frozen=True, kw_only=True)
class SlidingAggregateNode(ProcessorNode):
    """Aggregate records into KIP-450 sliding windows; ``input_serde`` writes the records
    kept while their windows are open."""

    windows: SlidingWindows
    emit: Emit
    initializer: Initializer
    aggregator: Aggregator
    store: str
    retention_ms: int
    input_serde: Serde[Any]

    def describe(self) -> str:
        w = self.windows
        return (
            f"sliding window aggregate, time_difference={w.time_difference_ms}ms, "
            f"grace={w.grace_ms}ms, emit={self.emit.name}"
        )


@dataclass(frozen=True, kw_only=True)
class SessionAggregateNode(ProcessorNode):
    """Aggregate records into sessions per key, merging sessions a record bridges."""

    windows: SessionWindows
    emit: Emit
    initializer: Initializer
    aggregator: Aggregator
    merger: Merger
    store: str
    retention_ms: int

    def describe(self) -> str:
        w = self.windows
        return (
            f"session window aggregate, gap={w.inactivity_gap_ms}ms, grace={w.grace_ms}ms, "
            f"emit={self.emit.name}"
        )
