"""``App(default_key_serde=, default_value_serde=)`` and the serdes operations carry."""

from __future__ import annotations

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.errors import TopologyError
from streamlet.topology.nodes import SinkNode, StoreSpec


def _sink(app: sl.App, topic: str) -> SinkNode:
    nodes = [n for n in app.topology().nodes.values() if isinstance(n, SinkNode)]
    return next(n for n in nodes if n.topic == topic)


def test_sinks_fall_back_to_json_without_app_defaults() -> None:
    app = sl.App("defaults")
    app.stream("in").map(lambda k, v: (k, v)).to("out")
    sink = _sink(app, "out")
    assert isinstance(sink.key_serde, serde.Json) and isinstance(sink.value_serde, serde.Json)


def test_app_defaults_apply_after_a_key_changing_operation() -> None:
    app = sl.App("defaults", default_key_serde=serde.String(), default_value_serde=serde.Int64())
    app.stream("in").map(lambda k, v: (k, v)).to("out")
    sink = _sink(app, "out")
    assert isinstance(sink.key_serde, serde.String) and isinstance(sink.value_serde, serde.Int64)


def test_app_defaults_reach_repartition_topics_and_stores() -> None:
    app = sl.App("defaults", default_key_serde=serde.String())
    app.stream("in").group_by(lambda _k, v: v, name="by-v").count("counts")
    app.store("extra")
    app.stream("other").process(lambda r, ctx: None, stores=["extra"], name="uses-extra")
    built = app.topology()
    store: StoreSpec = built.stores["counts"]
    assert isinstance(store.key_serde, serde.String)
    assert isinstance(built.stores["extra"].key_serde, serde.String)
    assert isinstance(_sink(app, "defaults-by-v-repartition").key_serde, serde.String)


@pytest.mark.parametrize(
    "op",
    [
        lambda s: s.filter(lambda _k, _v: True),
        lambda s: s.filter_not(lambda _k, _v: False),
        lambda s: s.peek(lambda _k, _v: None),
        lambda s: s.merge(s),
        lambda s: s.split().default_branch()["default"],
        lambda s: s.repartition("again"),
    ],
    ids=["filter", "filter_not", "peek", "merge", "split", "repartition"],
)
def test_type_keeping_operations_carry_the_declared_serdes(op: object) -> None:
    app = sl.App("carry")
    stream = app.stream("in", key_serde=serde.String(), value_serde=serde.Int32())
    op(stream).to("out")  # type: ignore[operator]
    sink = _sink(app, "out")
    assert isinstance(sink.key_serde, serde.String) and isinstance(sink.value_serde, serde.Int32)


class _Upper:
    def init(self, ctx: sl.ProcessorContext) -> None:
        self._ctx = ctx

    def process(self, record: sl.Record) -> None:
        self._ctx.forward(record)

    def close(self) -> None:
        pass


def test_process_refuses_a_processor_instance_when_the_topology_is_built() -> None:
    app = sl.App("procs")
    with pytest.raises(TopologyError, match=r"not a _Upper instance.*process\(_Upper\)"):
        app.stream("in").process(_Upper())
    app.stream("in").process(_Upper)  # the class itself is accepted


def test_app_processor_refuses_a_processor_instance() -> None:
    app = sl.App("procs")
    with pytest.raises(TopologyError, match="_Upper instance"):
        app.processor(source="in")(_Upper())  # type: ignore[type-var]
