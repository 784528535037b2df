"""``Topology``: the built graph, split into sub-topologies, and its ``describe()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streamlet.errors import TopologyError
from streamlet.topology.global_nodes import GlobalTableSpec
from streamlet.topology.nodes import (
    InternalTopic,
    Node,
    ProcessorNode,
    SinkNode,
    SourceNode,
    StoreSpec,
)


@dataclass(frozen=True)
class SubTopology:
    """A connected part of the graph; one task per partition of its source topics."""

    id: int
    nodes: tuple[Node, ...]  # parents before children
    source_topics: tuple[str, ...]
    sink_topics: tuple[str, ...]
    stores: tuple[str, ...]

    def sources(self) -> list[SourceNode]:
        return [n for n in self.nodes if isinstance(n, SourceNode)]

    def children(self) -> dict[str, list[Node]]:
        """Node name -> the nodes it feeds, in topological order."""
        out: dict[str, list[Node]] = {}
        for node in self.nodes:
            for parent in node.parents:
                out.setdefault(parent, []).append(node)
        return out


@dataclass(frozen=True)
class Topology:
    """Inert description of a streaming application; the runtime compiles it per task."""

    application_id: str
    nodes: Mapping[str, Node]
    stores: Mapping[str, StoreSpec]
    internal_topics: Mapping[str, InternalTopic]
    subtopologies: tuple[SubTopology, ...]
    # loaded whole by every worker, outside any task (streamlet.topology.global_nodes)
    global_tables: Mapping[str, GlobalTableSpec] = field(default_factory=dict)

    def subtopology_of_topic(self) -> dict[str, SubTopology]:
        """Source topic -> the sub-topology that reads it."""
        return {t: sub for sub in self.subtopologies for t in sub.source_topics}

    def source_topics(self) -> list[str]:
        return sorted({t for sub in self.subtopologies for t in sub.source_topics})

    def user_source_topics(self) -> list[str]:
        return [t for t in self.source_topics() if t not in self.internal_topics]

    def describe(self) -> str:
        """A text rendering in the manner of Kafka Streams' ``Topology#describe()``."""
        lines = [f"Topology: {self.application_id}"]
        for sub in self.subtopologies:
            lines.append(f"  Sub-topology: {sub.id}")
            children = sub.children()
            for node in sub.nodes:
                lines.append(f"    {_label(node)}")
                if isinstance(node, ProcessorNode) and node.stores:
                    lines.append(f"      stores: [{', '.join(node.stores)}]")
                kids = children.get(node.name, [])
                if kids:
                    lines.append(f"      --> {', '.join(k.name for k in kids)}")
                if node.parents:
                    lines.append(f"      <-- {', '.join(node.parents)}")
        if self.stores:
            lines.append("  Stores:")
            for spec in self.stores.values():
                log = f" (changelog: {spec.changelog})" if spec.changelog else " (not logged)"
                kind = (
                    ""
                    if spec.retention_ms is None
                    else f" [{spec.kind}, retention={spec.retention_ms}ms]"
                )
                lines.append(f"    {spec.name}{kind}{log}")
        if self.internal_topics:
            lines.append("  Internal topics:")
            for topic in self.internal_topics.values():
                parts = "" if topic.partitions is None else f", partitions={topic.partitions}"
                lines.append(f"    {topic.name} ({topic.kind}{parts})")
        for table in self.global_tables.values():  # as Kafka Streams prints a global store
            lines.append(f"  Global store: {table.name} (will not generate tasks)")
            lines.append(f"    Source: {table.name}-global-source (topics: [{table.topic}])")
        return "\n".join(lines)


def _label(node: Node) -> str:
    if isinstance(node, SourceNode):
        return f"Source: {node.name} (topics: [{', '.join(node.topics)}])"
    if isinstance(node, SinkNode):
        return f"Sink: {node.name} (topic: {node.topic})"
    assert isinstance(node, ProcessorNode)
    return f"Processor: {node.name} ({node.describe()})"


def build_topology(
    application_id: str,
    nodes: Mapping[str, Node],
    stores: Mapping[str, StoreSpec],
    internal_topics: Mapping[str, InternalTopic],
    global_tables: Mapping[str, GlobalTableSpec] | None = None,
) -> Topology:
    """Validate the graph and group it into sub-topologies (connected by edges or stores)."""
    for node in nodes.values():
        for parent in node.parents:
            if parent not in nodes:
                raise TopologyError(f"node {node.name!r} reads from unknown node {parent!r}")
        if isinstance(node, ProcessorNode):
            for store in node.stores:
                if store not in stores:
                    raise TopologyError(
                        f"processor {node.name!r} uses store {store!r}, which is not declared"
                    )
    used = {s for n in nodes.values() if isinstance(n, ProcessorNode) for s in n.stores}
    unused = sorted(set(stores) - used)
    if unused:
        raise TopologyError(f"stores {unused} are declared but no processor uses them")
    if not any(isinstance(n, SourceNode) for n in nodes.values()):
        raise TopologyError("the topology has no source: call App.stream() or App.table()")

    root = {name: name for name in nodes}

    def find(name: str) -> str:
        while root[name] != name:
            root[name] = root[root[name]]
            name = root[name]
        return name

    def union(a: str, b: str) -> None:
        root[find(a)] = find(b)

    store_owner: dict[str, str] = {}
    for node in nodes.values():
        for parent in node.parents:
            union(node.name, parent)
        if isinstance(node, ProcessorNode):
            for store in node.stores:
                if store in store_owner:
                    union(node.name, store_owner[store])
                store_owner[store] = node.name

    groups: dict[str, list[Node]] = {}
    for name, node in nodes.items():  # insertion order = parents before children
        groups.setdefault(find(name), []).append(node)

    read_by: dict[str, str] = {}
    subs: list[SubTopology] = []
    for index, members in enumerate(groups.values()):
        sources = [t for n in members if isinstance(n, SourceNode) for t in n.topics]
        if not sources:
            raise TopologyError(f"nodes {[n.name for n in members]} are not fed by any source")
        for topic in sources:
            if topic in read_by:
                raise TopologyError(f"topic {topic!r} is read by two sources; merge the streams")
            read_by[topic] = members[0].name
        subs.append(
            SubTopology(
                id=index,
                nodes=tuple(members),
                source_topics=tuple(sources),
                sink_topics=tuple(n.topic for n in members if isinstance(n, SinkNode)),
                stores=tuple(
                    dict.fromkeys(
                        s for n in members if isinstance(n, ProcessorNode) for s in n.stores
                    )
                ),
            )
        )
    globals_ = dict(global_tables or {})
    for spec in globals_.values():
        if spec.topic in read_by:
            raise TopologyError(
                f"topic {spec.topic!r} of global table {spec.name!r} is already read by "
                f"{read_by[spec.topic]!r}; read a topic once"
            )
        read_by[spec.topic] = spec.name
    return Topology(
        application_id, dict(nodes), dict(stores), dict(internal_topics), tuple(subs), globals_
    )
