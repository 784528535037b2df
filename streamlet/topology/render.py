"""Pictures of a topology: Mermaid flowcharts and Graphviz dot, as text (inert: no clients).

Topics and stores are drawn as their own shapes beside the nodes, so a repartition topic
shows as the link between the sub-topology that writes it and the one that reads it.
"""

from __future__ import annotations

from streamlet.topology.global_nodes import GlobalJoinNode
from streamlet.topology.nodes import Node, ProcessorNode, SinkNode, SourceNode
from streamlet.topology.topology import Topology


class _Ids:
    """Stable identifiers for names that may hold characters neither format accepts."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}

    def __call__(self, kind: str, name: str) -> str:
        return self._ids.setdefault((kind, name), f"{kind}{len(self._ids)}")


def _label(node: Node) -> str:
    if isinstance(node, SourceNode):
        return f"{node.name}\nsource"
    if isinstance(node, SinkNode):
        return f"{node.name}\nsink"
    assert isinstance(node, ProcessorNode)
    return f"{node.name}\n{node.describe()}"  # typed nodes have no op: they describe


def _edges(topology: Topology, ids: _Ids) -> list[tuple[str, str]]:
    """(from, to) ids: topic -> source, parent -> child, sink -> topic, processor -> store."""
    out: list[tuple[str, str]] = []
    for node in topology.nodes.values():
        me = ids("n", node.name)
        if isinstance(node, SourceNode):
            out += [(ids("t", t), me) for t in node.topics]
        out += [(ids("n", p), me) for p in node.parents]
        if isinstance(node, SinkNode):
            out.append((me, ids("t", node.topic)))
        if isinstance(node, ProcessorNode):
            out += [(me, ids("s", s)) for s in node.stores]
        if isinstance(node, GlobalJoinNode):  # the join reads the table: an edge into it
            out.append((ids("s", node.table), me))
    out += [(ids("t", g.topic), ids("s", g.name)) for g in topology.global_tables.values()]
    return out


def _topics(topology: Topology) -> list[str]:
    names: dict[str, None] = {}
    for node in topology.nodes.values():
        if isinstance(node, SourceNode):
            names.update(dict.fromkeys(node.topics))
        elif isinstance(node, SinkNode):
            names[node.topic] = None
    names.update(dict.fromkeys(g.topic for g in topology.global_tables.values()))
    return list(names)


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def to_mermaid(topology: Topology) -> str:
    """A Mermaid ``flowchart`` (renders on GitHub inside a ```mermaid block)."""
    ids = _Ids()
    lines = ["flowchart TD"]
    for topic in _topics(topology):
        lines.append(f"  {ids('t', topic)}[/{_mermaid_text(topic)}/]")
    for sub in topology.subtopologies:
        lines.append(f'  subgraph sub{sub.id}["Sub-topology {sub.id}"]')
        for node in sub.nodes:
            lines.append(f"    {ids('n', node.name)}({_mermaid_text(_label(node))})")
        for store in sub.stores:
            lines.append(f"    {ids('s', store)}[({_mermaid_text(store)})]")
        lines.append("  end")
    for name in topology.global_tables:  # in no sub-topology: every worker holds it whole
        label = _mermaid_text(name + "\nglobal store")
        lines.append(f"  {ids('s', name)}[({label})]")
    lines += [f"  {a} --> {b}" for a, b in _edges(topology, ids)]
    return "\n".join(lines)


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(topology: Topology) -> str:
    """A Graphviz ``digraph``: topics as parallelograms, stores as cylinders."""
    ids = _Ids()
    lines = [
        f"digraph {_dot_text(topology.application_id)} {{",
        "  rankdir=TB;",
        "  node [fontname=Helvetica, fontsize=10];",
    ]
    for topic in _topics(topology):
        lines.append(f"  {ids('t', topic)} [label={_dot_text(topic)}, shape=parallelogram];")
    for sub in topology.subtopologies:
        lines.append(f"  subgraph cluster_{sub.id} {{")
        lines.append(f"    label={_dot_text(f'Sub-topology {sub.id}')};")
        for node in sub.nodes:
            lines.append(
                f"    {ids('n', node.name)} [label={_dot_text(_label(node))}, shape=box, "
                "style=rounded];"
            )
        for store in sub.stores:
            lines.append(f"    {ids('s', store)} [label={_dot_text(store)}, shape=cylinder];")
        lines.append("  }")
    for name in topology.global_tables:
        label = _dot_text(name + "\nglobal store")
        lines.append(f"  {ids('s', name)} [label={label}, shape=cylinder];")
    lines += [f"  {a} -> {b};" for a, b in _edges(topology, ids)]
    lines.append("}")
    return "\n".join(lines)
