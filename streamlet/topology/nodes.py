"""The inert graph: nodes are frozen data naming their parents; nothing here runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.serde import Serde

TimestampExtractor = Callable[[Any, Any, int], int]
"""``(key, value, record_timestamp) -> timestamp_ms``."""


@dataclass(frozen=True)
class Node:
    """A named vertex; ``parents`` are the names of the nodes that feed it."""

    name: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class SourceNode(Node):
    """Reads ``topics`` (all with the same partition count) and deserializes them."""

    topics: tuple[str, ...] = ()
    key_serde: Serde[Any] | None = None
    value_serde: Serde[Any] | None = None
    timestamp_extractor: TimestampExtractor | None = None
    internal: bool = False


@dataclass(frozen=True)
class SinkNode(Node):
    """Serializes and produces to ``topic``; ``partitioner(key, value, n) -> partition``."""

    topic: str = ""
    key_serde: Serde[Any] | None = None
    value_serde: Serde[Any] | None = None
    partitioner: Callable[[Any, Any, int], int] | None = None
    internal: bool = False


@dataclass(frozen=True)
class ProcessorNode(Node):
    """One operation. ``op`` is the kind the runtime compiles; ``fn`` its user function(s).

    Kinds: map, map_values, flat_map, flat_map_values, filter, filter_not, select_key, peek,
    merge (pass-through with several parents), split (``fn`` is a tuple of
    ``(predicate | None, child_name)``, first match wins), process (a processor function or
    a factory of Processor objects), aggregate (``fn`` is ``(initializer, aggregator)``,
    ``stores[0]`` the store), table_source (``stores[0]`` materializes the upstream).
    """

    op: str = ""
    fn: Any = None
    stores: tuple[str, ...] = ()

    def describe(self) -> str:
        """What ``Topology.describe()`` prints for the node: its kind (typed nodes say more)."""
        return self.op


@dataclass(frozen=True)
class StoreSpec:
    """A store: ``changelog`` names its changelog topic (None: not logged). ``kind`` is
    ``key_value``, ``window`` or ``session``; windowed kinds keep ``retention_ms`` of time."""

    name: str
    key_serde: Serde[Any]
    value_serde: Serde[Any]
    changelog: str | None
    kind: str = "key_value"
    retention_ms: int | None = None


@dataclass(frozen=True)
class InternalTopic:
    """A topic the application creates: repartition or changelog."""

    name: str
    kind: str  # "repartition" | "changelog"
    partitions: int | None  # None: derived from the sub-topology that reads or writes it
    config: tuple[tuple[str, str], ...] = ()
    # sized only like the topics its reader reads beside it (a foreign-key join's topics
    # follow the table they are joined with), never like its writer's
    follows_readers: bool = False
