"""``TopologyBuilder``: collects nodes, stores and internal topics; names what users name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from streamlet.config import TOPIC_NAME_PART
from streamlet.errors import TopologyError
from streamlet.serde import Json, Serde
from streamlet.topology.global_nodes import GlobalTableSpec
from streamlet.topology.nodes import (
    InternalTopic,
    Node,
    ProcessorNode,
    SinkNode,
    SourceNode,
    StoreSpec,
    TimestampExtractor,
)
from streamlet.topology.topology import Topology, build_topology

# Repartition records are deleted by the app once every reader committed past them, never by
# time: records carry their event time, and old event times would expire before being read.
# Small segments let those deletions free disk soon.
_REPARTITION_CONFIG = (
    ("cleanup.policy", "delete"),
    ("retention.ms", "-1"),
    ("segment.bytes", str(50 * 1024 * 1024)),
    ("segment.ms", str(10 * 60 * 1000)),
)
_DAY_MS = 24 * 60 * 60 * 1000


class TopologyBuilder:
    """Mutable while the DSL runs; ``build()`` returns the frozen ``Topology``."""

    def __init__(
        self,
        application_id: str,
        *,
        default_key_serde: Serde[Any] | None = None,
        default_value_serde: Serde[Any] | None = None,
    ) -> None:
        self.application_id = application_id
        # what an operation falls back to when neither the call nor the stream has a serde
        # (Kafka Streams' default.key.serde / default.value.serde)
        self.default_key_serde: Serde[Any] = default_key_serde or Json()
        self.default_value_serde: Serde[Any] = default_value_serde or Json()
        self._nodes: dict[str, Node] = {}
        self._stores: dict[str, StoreSpec] = {}
        self._internal: dict[str, InternalTopic] = {}
        self._globals: dict[str, GlobalTableSpec] = {}
        self._counter = 0

    # -- naming -------------------------------------------------------------------------
    def auto_name(self, kind: str) -> str:
        """Names for stateless nodes only: they own no state, so renumbering is harmless."""
        self._counter += 1
        return f"{kind.upper()}-{self._counter:010d}"

    def require_name(self, name: str | None, what: str) -> str:
        if not name:
            raise TopologyError(
                f"{what} needs a name= : internal topics and stores derive from it, "
                "so that changing the topology later never orphans state"
            )
        if not TOPIC_NAME_PART.fullmatch(name):
            raise TopologyError(f"{what} name {name!r} may only use letters, digits, '.', '_', '-'")
        return name

    def internal_topic_name(self, name: str, kind: str) -> str:
        return f"{self.application_id}-{name}-{kind}"

    # -- graph --------------------------------------------------------------------------
    def add(self, node: Node) -> str:
        if node.name in self._nodes:
            raise TopologyError(f"two nodes are named {node.name!r}")
        self._nodes[node.name] = node
        return node.name

    def add_source(
        self,
        topics: Sequence[str],
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        timestamp_extractor: TimestampExtractor | None = None,
        *,
        name: str | None = None,
        internal: bool = False,
    ) -> str:
        if not topics:
            raise TopologyError("a source needs at least one topic")
        return self.add(
            SourceNode(
                name or self.auto_name("source"),
                (),
                topics=tuple(topics),
                key_serde=key_serde,
                value_serde=value_serde,
                timestamp_extractor=timestamp_extractor,
                internal=internal,
            )
        )

    def add_processor(
        self,
        op: str,
        parents: Sequence[str],
        fn: Any = None,
        *,
        name: str | None = None,
        stores: Sequence[str] = (),
    ) -> str:
        return self.add(
            ProcessorNode(
                name or self.auto_name(op),
                tuple(parents),
                op=op,
                fn=fn,
                stores=tuple(stores),
            )
        )

    def add_sink(
        self,
        parent: str,
        topic: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        partitioner: Callable[[Any, Any, int], int] | None = None,
        *,
        name: str | None = None,
        internal: bool = False,
    ) -> str:
        return self.add(
            SinkNode(
                name or self.auto_name("sink"),
                (parent,),
                topic=topic,
                key_serde=key_serde,
                value_serde=value_serde,
                partitioner=partitioner,
                internal=internal,
            )
        )

    def add_store(
        self,
        name: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        *,
        logged: bool = True,
        kind: str = "key_value",
        retention_ms: int | None = None,
    ) -> StoreSpec:
        """A store; a windowed ``kind`` keeps ``retention_ms``, and its changelog is compacted
        and also deleted by time, a day after retention (as in Kafka Streams)."""
        self.require_name(name, "a store")
        if name in self._stores or name in self._globals:
            raise TopologyError(f"store {name!r} is declared twice")
        changelog = self.internal_topic_name(name, "changelog") if logged else None
        spec = StoreSpec(name, key_serde, value_serde, changelog, kind, retention_ms)
        self._stores[name] = spec
        if changelog:
            config: tuple[tuple[str, str], ...] = (("cleanup.policy", "compact"),)
            if retention_ms is not None:
                config = (
                    ("cleanup.policy", "compact,delete"),
                    ("retention.ms", str(retention_ms + _DAY_MS)),
                )
            self._internal[changelog] = InternalTopic(changelog, "changelog", None, config)
        return spec

    def has_store(self, name: str) -> bool:
        return name in self._stores

    def add_global_table(self, spec: GlobalTableSpec) -> None:
        if spec.name in self._globals or spec.name in self._stores:
            raise TopologyError(f"store {spec.name!r} is declared twice")
        self._globals[spec.name] = spec

    def add_repartition(
        self,
        parent: str,
        name: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        partitions: int | None,
    ) -> str:
        """A sink to ``<app>-<name>-repartition`` and a new source reading it back."""
        self.require_name(name, "a repartition")
        topic = self.internal_topic_name(name, "repartition")
        if topic in self._internal:
            raise TopologyError(f"repartition name {name!r} is used twice")
        if partitions is not None and partitions < 1:
            raise TopologyError(f"repartition {name!r}: partitions must be >= 1")
        self._internal[topic] = InternalTopic(topic, "repartition", partitions, _REPARTITION_CONFIG)
        self.add_sink(
            parent, topic, key_serde, value_serde, name=f"{name}-repartition-sink", internal=True
        )
        return self.add_source(
            [topic], key_serde, value_serde, name=f"{name}-repartition-source", internal=True
        )

    def add_internal_topic(self, name: str, kind: str) -> str:
        """``<app>-<name>-<kind>``, an exchange topic between sub-topologies that the app
        creates and purges like a repartition topic, sized like the topics read beside it."""
        topic = self.internal_topic_name(name, kind)
        if topic in self._internal:
            raise TopologyError(f"internal topic {topic!r} is declared twice")
        self._internal[topic] = InternalTopic(
            topic, "repartition", None, _REPARTITION_CONFIG, follows_readers=True
        )
        return topic

    def build(self) -> Topology:
        return build_topology(
            self.application_id, self._nodes, self._stores, self._internal, self._globals
        )
