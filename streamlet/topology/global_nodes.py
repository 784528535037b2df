"""Global tables as inert data: the table a worker loads whole, and the join that reads it.

A global table is not part of any sub-topology: it creates no task, has no changelog (its
source topic is its log) and is never co-partitioned with anything. Every worker holds all
partitions of the topic in a local store (``streamlet.runtime.global_tables``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.serde import Serde
from streamlet.topology.nodes import ProcessorNode

Joiner = Callable[[Any, Any], Any]
"""``joiner(stream_value, table_value) -> joined value``."""
KeyMapper = Callable[[Any, Any], Any]
"""``key_mapper(stream_key, stream_value) -> the global table's key`` (None: no match)."""


@dataclass(frozen=True)
class GlobalTableSpec:
    """The global table ``name`` (its store's name) read from every partition of ``topic``."""

    name: str
    topic: str
    key_serde: Serde[Any]
    value_serde: Serde[Any]


@dataclass(frozen=True, kw_only=True)
class GlobalJoinNode(ProcessorNode):
    """Look each stream record up in the global table ``table`` under
    ``key_mapper(key, value)`` and forward ``joiner(value, table_value)`` with the stream's
    key and timestamp; a miss drops the record, or with ``left`` joins it with None."""

    table: str
    joiner: Joiner
    key_mapper: KeyMapper
    left: bool

    def describe(self) -> str:
        kind = "left join" if self.left else "join"
        return f"{kind} with global table {self.table}"
