"""Compile one sub-topology into a flat chain of closures for one task.

Each node becomes ``emit(record)``; a node calls its children's ``emit`` directly, so the
per-record path is a handful of Python calls with no dispatch on node kind. User functions
are wrapped so an exception names the processor and the function (file, line); the task
adds the record's topic/partition/offset.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from streamlet.errors import (
    ProductionError,
    SerializationError,
    StreamletError,
    TopologyError,
)
from streamlet.record import Record, new_record
from streamlet.runtime.ops import COMPILERS
from streamlet.runtime.ops_table import TABLE_OPS
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.runtime.userfn import describe_function as describe_function
from streamlet.topology.nodes import Node, ProcessorNode, SinkNode, SourceNode
from streamlet.topology.topology import SubTopology


def compile_subtopology(sub: SubTopology, task: TaskServices) -> dict[str, Emit]:
    """``source topic -> emit`` for the task's sub-topology."""
    children = sub.children()
    built: dict[str, Emit] = {}
    for node in reversed(sub.nodes):
        kids = {c.name: built[c.name] for c in children.get(node.name, [])}
        if isinstance(node, ProcessorNode) and node.op == "process":
            # a processor's forward(to=<topic>) also reaches a child sink by its topic
            sinks = {
                c.topic: built[c.name]
                for c in children.get(node.name, [])
                if isinstance(c, SinkNode)
            }
            kids = {**sinks, **kids}
        built[node.name] = _compile(node, kids, task)
    return {t: built[n.name] for n in sub.sources() for t in n.topics}


def _fan_out(kids: Sequence[Emit]) -> Emit:
    if len(kids) == 1:
        return kids[0]
    if not kids:
        return lambda _r: None
    fixed = tuple(kids)

    def emit(r: Record) -> None:
        for k in fixed:
            k(r)

    return emit


def _compile(node: Node, kids: dict[str, Emit], task: TaskServices) -> Emit:
    out = _fan_out(list(kids.values()))
    if isinstance(node, SourceNode):
        return out
    if isinstance(node, SinkNode):
        return _sink(node, task)
    assert isinstance(node, ProcessorNode)
    typed = COMPILERS.get(type(node))
    if typed is not None:
        return typed(node, out, kids, task)
    maker = _OPS.get(node.op)
    if maker is None:
        raise TopologyError(f"node {node.name!r} has unknown op {node.op!r}")
    return maker(node, out, kids, task)


def _sink(node: SinkNode, task: TaskServices) -> Emit:
    topic, ks, vs, part = node.topic, node.key_serde, node.value_serde, node.partitioner
    assert ks is not None and vs is not None
    produce = task.produce
    n_parts = task.partitions_of(topic) if part is not None else 0

    def emit(r: Record) -> None:
        try:
            k = ks.serialize(topic, r.key)
            v = vs.serialize(topic, r.value)
        except SerializationError as exc:
            raise ProductionError(
                f"sink {node.name!r} could not serialize for {topic!r}: {exc.message}",
                processor=node.name,
            ) from exc
        p = -1
        if part is not None:
            try:
                p = part(r.key, r.value, n_parts)
            except Exception as exc:
                raise user_error(exc, node.name, part) from exc
        produce(topic, k, v, p, r.timestamp, list(r.headers) if r.headers else None)

    return emit


def _map(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def emit(r: Record) -> None:
        key, value, timestamp, headers, topic, partition, offset = r  # one step for seven
        try:
            k, v = fn(key, value)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        out(new_record(Record, (k, v, timestamp, headers, topic, partition, offset)))

    return emit


def _map_values(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def emit(r: Record) -> None:
        key, value, timestamp, headers, topic, partition, offset = r
        try:
            v = fn(value)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        out(new_record(Record, (key, v, timestamp, headers, topic, partition, offset)))

    return emit


def _select_key(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def emit(r: Record) -> None:
        key, value, timestamp, headers, topic, partition, offset = r
        try:
            k = fn(key, value)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        out(new_record(Record, (k, value, timestamp, headers, topic, partition, offset)))

    return emit


def _flat_map(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def emit(r: Record) -> None:
        try:
            pairs = list(fn(r.key, r.value))
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        for k, v in pairs:
            out(new_record(Record, (k, v, r.timestamp, r.headers, r.topic, r.partition, r.offset)))

    return emit


def _flat_map_values(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def emit(r: Record) -> None:
        try:
            values = list(fn(r.value))
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        for v in values:
            out(
                new_record(
                    Record, (r.key, v, r.timestamp, r.headers, r.topic, r.partition, r.offset)
                )
            )

    return emit


def _filter(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn, keep = n.fn, n.op == "filter"

    def emit(r: Record) -> None:
        try:
            ok = bool(fn(r.key, r.value))
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        if ok is keep:
            out(r)

    return emit


def _peek(n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    fn = n.fn

    def emit(r: Record) -> None:
        try:
            fn(r.key, r.value)
        except Exception as exc:
            raise user_error(exc, n.name, fn) from exc
        out(r)

    return emit


def _merge(_n: ProcessorNode, out: Emit, _k: dict[str, Emit], _t: TaskServices) -> Emit:
    return out


def _split(n: ProcessorNode, _out: Emit, kids: dict[str, Emit], _t: TaskServices) -> Emit:
    routes = tuple((pred, kids[child]) for pred, child in n.fn)

    def emit(r: Record) -> None:
        for pred, child in routes:
            try:
                hit = pred is None or pred(r.key, r.value)
            except Exception as exc:
                raise user_error(exc, n.name, pred) from exc
            if hit:
                child(r)
                return

    return emit


def _process(n: ProcessorNode, _out: Emit, kids: dict[str, Emit], task: TaskServices) -> Emit:
    ctx = task.node_context(n, kids)  # forward(to=) takes a child's name or a sink's topic
    target = n.fn
    if _is_processor_factory(target):
        try:
            proc = target()
            proc.init(ctx)
        except Exception as exc:
            raise user_error(exc, n.name, target) from exc
        ctx.on_close(proc.close)
        fn = proc.process

        def emit_obj(r: Record) -> None:
            try:
                fn(r)
            except StreamletError:
                raise
            except Exception as exc:
                raise user_error(exc, n.name, fn) from exc

        return emit_obj

    def emit(r: Record) -> None:
        try:
            target(r, ctx)
        except StreamletError:
            raise
        except Exception as exc:
            raise user_error(exc, n.name, target) from exc

    return emit


def _is_processor_factory(target: Any) -> bool:
    """A class or zero-argument callable makes Processor objects; else ``(record, ctx)``."""
    if isinstance(target, type):
        return True
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return not required


_OPS: dict[str, Callable[[ProcessorNode, Emit, dict[str, Emit], TaskServices], Emit]] = {
    "map": _map,
    "map_values": _map_values,
    "select_key": _select_key,
    "flat_map": _flat_map,
    "flat_map_values": _flat_map_values,
    "filter": _filter,
    "filter_not": _filter,
    "peek": _peek,
    "merge": _merge,
    "split": _split,
    "process": _process,
    **TABLE_OPS,
}
