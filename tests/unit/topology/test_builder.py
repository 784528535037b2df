"""Building topologies with the DSL: nodes, names, internal topics and sub-topologies.

Everything here is inert: ``App.topology()`` validates the graph and splits it, nothing runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.topology.nodes import ProcessorNode, SinkNode, SourceNode
from streamlet.topology.topology import SubTopology, Topology


def _wordcount() -> sl.App:
    app = sl.App("wordcount")
    lines = app.stream("text-lines", key_serde=serde.String(), value_serde=serde.String())
    (
        lines.flat_map_values(lambda line: line.lower().split())
        .group_by(lambda _key, word: word, name="by-word")
        .count(name="word-counts")
        .to_stream()
        .to("word-counts", value_serde=serde.Int64())
    )
    return app


def _sub_reading(topology: Topology, topic: str) -> SubTopology:
    return topology.subtopology_of_topic()[topic]


def _processors(topology: Topology) -> list[ProcessorNode]:
    return [n for n in topology.nodes.values() if isinstance(n, ProcessorNode)]


def _sink_to(topology: Topology, topic: str) -> SinkNode:
    (sink,) = [n for n in topology.nodes.values() if isinstance(n, SinkNode) and n.topic == topic]
    return sink


def _has_value(_key: Any, value: Any) -> bool:
    return value is not None


def _ancestors(topology: Topology, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(topology.nodes[name].parents)
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(topology.nodes[parent].parents)
    return seen


# -- sub-topologies ----------------------------------------------------------------------
def test_build_splits_subtopologies_at_repartition_topic() -> None:
    topology = _wordcount().topology()

    assert len(topology.subtopologies) == 2
    upstream, downstream = topology.subtopologies
    assert upstream.source_topics == ("text-lines",)
    assert upstream.sink_topics == ("wordcount-by-word-repartition",)
    assert upstream.stores == ()
    assert downstream.source_topics == ("wordcount-by-word-repartition",)
    assert downstream.sink_topics == ("word-counts",)
    assert downstream.stores == ("word-counts",)


def test_build_keeps_stateless_chain_in_one_subtopology() -> None:
    app = sl.App("shop")
    (
        app.stream("orders")
        .map(lambda k, v: (v, k))
        .map_values(str)
        .filter(lambda _k, v: bool(v))
        .peek(print)
        .to("out")
    )

    (sub,) = app.topology().subtopologies
    assert sub.source_topics == ("orders",)
    assert sub.sink_topics == ("out",)


def test_build_splits_subtopologies_at_explicit_repartition() -> None:
    app = sl.App("shop")
    app.stream("orders").select_key(lambda _k, v: v).repartition("by-customer").to("out")

    topology = app.topology()
    first = _sub_reading(topology, "orders")
    second = _sub_reading(topology, "shop-by-customer-repartition")
    assert first.id != second.id
    assert first.sink_topics == ("shop-by-customer-repartition",)
    assert second.sink_topics == ("out",)


def test_build_lists_subtopology_nodes_parents_first() -> None:
    topology = _wordcount().topology()

    for sub in topology.subtopologies:
        seen: set[str] = set()
        for node in sub.nodes:
            assert all(parent in seen for parent in node.parents), node.name
            seen.add(node.name)


def test_build_joins_processors_sharing_store_into_one_subtopology() -> None:
    app = sl.App("shop")
    app.store("seen")
    app.stream("orders").process(lambda r, ctx: None, stores=("seen",), name="check-orders")
    app.stream("refunds").process(lambda r, ctx: None, stores=("seen",), name="check-refunds")

    (sub,) = app.topology().subtopologies
    assert sub.source_topics == ("orders", "refunds")
    assert sub.stores == ("seen",)
    assert {"check-orders", "check-refunds"} <= {n.name for n in sub.nodes}


def test_build_separates_processors_with_distinct_stores() -> None:
    app = sl.App("shop")
    app.store("seen-orders")
    app.store("seen-refunds")
    app.stream("orders").process(lambda r, ctx: None, stores=("seen-orders",))
    app.stream("refunds").process(lambda r, ctx: None, stores=("seen-refunds",))

    topology = app.topology()
    assert len(topology.subtopologies) == 2
    assert _sub_reading(topology, "orders").stores == ("seen-orders",)
    assert _sub_reading(topology, "refunds").stores == ("seen-refunds",)


def test_decorated_processors_sharing_store_form_one_subtopology() -> None:
    app = sl.App("shop")

    @app.processor(source="orders", stores=("ledger",))
    def book_order(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    @app.processor(source="refunds", stores=("ledger",))
    def book_refund(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    (sub,) = app.topology().subtopologies
    assert sub.source_topics == ("orders", "refunds")
    assert sub.stores == ("ledger",)


def test_build_puts_merged_sources_in_one_subtopology() -> None:
    app = sl.App("shop")
    orders = app.stream("orders")
    refunds = app.stream("refunds")
    merged = orders.merge(refunds, name="all-payments")
    merged.to("payments")

    topology = app.topology()
    (sub,) = topology.subtopologies
    assert sub.source_topics == ("orders", "refunds")
    assert topology.nodes["all-payments"].parents == (orders.node, refunds.node)


# -- topics read twice --------------------------------------------------------------------
def test_build_raises_when_topic_read_by_two_sources() -> None:
    app = sl.App("shop")
    app.stream("orders").to("a")
    app.stream("orders").to("b")

    with pytest.raises(sl.TopologyError, match="'orders' is read by two sources"):
        app.topology()


def test_build_raises_when_merged_sources_read_same_topic() -> None:
    app = sl.App("shop")
    app.stream("orders").merge(app.stream("orders")).to("out")

    with pytest.raises(sl.TopologyError, match="'orders' is read by two sources"):
        app.topology()


def test_build_raises_when_table_and_stream_read_same_topic() -> None:
    app = sl.App("shop")
    app.table("customers", name="customers-store")
    app.stream("customers").to("out")

    with pytest.raises(sl.TopologyError, match="'customers' is read by two sources"):
        app.topology()


# -- internal topic names ----------------------------------------------------------------
def test_repartition_names_topic_after_app_and_name() -> None:
    app = sl.App("shop")
    moved = app.stream("orders").repartition("by-region")
    moved.to("out")

    topology = app.topology()
    topic = topology.internal_topics["shop-by-region-repartition"]
    assert topic.kind == "repartition"
    assert topic.partitions is None
    config = dict(topic.config)
    assert config["cleanup.policy"] == "delete"
    assert config["retention.ms"] == "-1"  # purged by the app after commit, never by time
    source = topology.nodes[moved.node]
    assert isinstance(source, SourceNode)
    assert source.internal
    assert source.topics == ("shop-by-region-repartition",)
    assert _sink_to(topology, "shop-by-region-repartition").internal


def test_repartition_records_partition_count_when_given() -> None:
    app = sl.App("shop")
    app.stream("orders").repartition("by-region", partitions=6).to("out")

    assert app.topology().internal_topics["shop-by-region-repartition"].partitions == 6


def test_group_by_records_partition_count_when_given() -> None:
    app = sl.App("shop")
    app.stream("orders").group_by(lambda _k, v: v, "by-item", partitions=3).count("item-counts")

    assert app.topology().internal_topics["shop-by-item-repartition"].partitions == 3


def test_count_names_store_and_changelog_after_app_and_name() -> None:
    topology = _wordcount().topology()

    store = topology.stores["word-counts"]
    assert store.changelog == "wordcount-word-counts-changelog"
    topic = topology.internal_topics["wordcount-word-counts-changelog"]
    assert topic.kind == "changelog"
    assert dict(topic.config) == {"cleanup.policy": "compact"}


def test_build_lists_exactly_the_named_internal_topics() -> None:
    topology = _wordcount().topology()

    assert set(topology.internal_topics) == {
        "wordcount-by-word-repartition",
        "wordcount-word-counts-changelog",
    }
    assert topology.user_source_topics() == ["text-lines"]


def test_store_has_no_changelog_when_not_logged() -> None:
    app = sl.App("shop")
    app.store("cache", logged=False)
    app.stream("orders").process(lambda r, ctx: None, stores=("cache",))

    topology = app.topology()
    assert topology.stores["cache"].changelog is None
    assert topology.internal_topics == {}


def test_app_table_materializes_topic_in_named_store() -> None:
    app = sl.App("shop")
    table = app.table("customers", name="customers-by-id", key_serde=serde.String())

    topology = app.topology()
    assert table.store == "customers-by-id"
    node = topology.nodes[table.node]
    assert isinstance(node, ProcessorNode)
    assert (node.op, node.stores) == ("table_source", ("customers-by-id",))
    assert topology.stores["customers-by-id"].changelog == "shop-customers-by-id-changelog"
    assert isinstance(topology.stores["customers-by-id"].key_serde, serde.String)
    (sub,) = topology.subtopologies
    assert sub.source_topics == ("customers",)


def test_to_table_materializes_stream_in_named_store() -> None:
    app = sl.App("shop")
    table = app.stream("prices", key_serde=serde.String()).to_table("latest-prices")
    table.to_stream().to("price-updates")

    topology = app.topology()
    assert topology.nodes["latest-prices"].parents != ()
    assert topology.stores["latest-prices"].changelog == "shop-latest-prices-changelog"
    assert "latest-prices" in _ancestors(topology, _sink_to(topology, "price-updates").name)


# -- missing and invalid names -----------------------------------------------------------
_NAMED_OPERATIONS: dict[str, Callable[[sl.App, Any], object]] = {
    "count": lambda app, name: app.stream("in").group_by_key().count(name),
    "reduce": lambda app, name: app.stream("in").group_by_key().reduce(max, name),
    "aggregate": lambda app, name: (
        app.stream("in").group_by_key().aggregate(list, lambda _k, v, agg: [*agg, v], name)
    ),
    "group_by": lambda app, name: app.stream("in").group_by(lambda _k, v: v, name),
    "repartition": lambda app, name: app.stream("in").repartition(name),
    "to_table": lambda app, name: app.stream("in").to_table(name),
    "app.table": lambda app, name: app.table("in", name=name),
    "app.store": lambda app, name: app.store(name),
}


@pytest.mark.parametrize("operation", sorted(_NAMED_OPERATIONS))
@pytest.mark.parametrize("name", [None, ""])
def test_named_operation_raises_when_name_missing(operation: str, name: str | None) -> None:
    app = sl.App("shop")

    with pytest.raises(sl.TopologyError, match="needs a name="):
        _NAMED_OPERATIONS[operation](app, name)


@pytest.mark.parametrize("operation", sorted(_NAMED_OPERATIONS))
@pytest.mark.parametrize("name", ["has space", "a/b", "a:b", "star*", "caf\u00e9", "tab\tbed"])
def test_named_operation_raises_when_name_invalid(operation: str, name: str) -> None:
    app = sl.App("shop")

    with pytest.raises(sl.TopologyError, match="may only use letters, digits"):
        _NAMED_OPERATIONS[operation](app, name)


def test_count_raises_when_name_ends_with_newline() -> None:
    app = sl.App("shop")

    with pytest.raises(sl.TopologyError, match="may only use letters, digits"):
        app.stream("in").group_by_key().count("counts\n")


def test_group_by_adds_no_node_when_name_missing() -> None:
    app = sl.App("shop")
    stream = app.stream("in")

    with pytest.raises(sl.TopologyError):
        stream.group_by(lambda _k, v: v, None)  # type: ignore[arg-type]

    assert list(app.topology().nodes) == [stream.node]


def test_named_operation_accepts_letters_digits_dots_underscores_dashes() -> None:
    app = sl.App("shop")
    app.stream("in").group_by_key().count("Order_counts.v2-EU")

    assert "shop-Order_counts.v2-EU-changelog" in app.topology().internal_topics


# -- duplicate names -----------------------------------------------------------------------
def test_count_raises_when_store_name_reused() -> None:
    app = sl.App("shop")
    app.stream("orders").group_by_key().count("counts")

    with pytest.raises(sl.TopologyError, match="store 'counts' is declared twice"):
        app.stream("refunds").group_by_key().count("counts")


def test_store_raises_when_name_reused_by_table() -> None:
    app = sl.App("shop")
    app.table("customers", name="customers")

    with pytest.raises(sl.TopologyError, match="store 'customers' is declared twice"):
        app.store("customers")


def test_repartition_raises_when_name_reused() -> None:
    app = sl.App("shop")
    stream = app.stream("orders")
    stream.repartition("by-region")

    with pytest.raises(sl.TopologyError, match="repartition name 'by-region' is used twice"):
        stream.repartition("by-region")


def test_group_by_raises_when_repartition_name_reused() -> None:
    app = sl.App("shop")
    stream = app.stream("orders")
    stream.repartition("by-item")

    with pytest.raises(sl.TopologyError, match="repartition name 'by-item' is used twice"):
        stream.group_by(lambda _k, v: v, "by-item")


def test_processor_raises_when_node_name_reused() -> None:
    app = sl.App("shop")
    stream = app.stream("orders")
    stream.map_values(str, name="stringify")

    with pytest.raises(sl.TopologyError, match="two nodes are named 'stringify'"):
        stream.map_values(repr, name="stringify")


def test_split_raises_when_branch_name_reused() -> None:
    app = sl.App("shop")
    splitter = app.stream("orders").split(name="route").branch(_has_value, name="a")

    with pytest.raises(sl.TopologyError, match="two nodes are named 'route-a'"):
        splitter.branch(_has_value, name="a").default_branch()


# -- build-time validation ---------------------------------------------------------------
def test_build_raises_when_no_source() -> None:
    with pytest.raises(sl.TopologyError, match="has no source"):
        sl.App("shop").topology()


def test_stream_raises_when_no_topics() -> None:
    with pytest.raises(sl.TopologyError, match="at least one topic"):
        sl.App("shop").stream([])


def test_build_raises_when_processor_uses_undeclared_store() -> None:
    app = sl.App("shop")
    app.stream("orders").process(lambda r, ctx: None, stores=("nope",), name="lookup")

    with pytest.raises(sl.TopologyError, match="'lookup' uses store 'nope', which is not declared"):
        app.topology()


def test_repartition_raises_when_partitions_below_one() -> None:
    app = sl.App("shop")

    with pytest.raises(sl.TopologyError, match="partitions must be >= 1"):
        app.stream("orders").repartition("by-region", partitions=0)


def test_merge_raises_when_stream_belongs_to_other_app() -> None:
    app, other = sl.App("shop"), sl.App("other")

    with pytest.raises(sl.TopologyError):
        app.stream("orders").merge(other.stream("refunds"), name="mixed")
        app.topology()


def test_topology_includes_nodes_added_after_earlier_build() -> None:
    app = sl.App("shop")
    stream = app.stream("orders")
    first = app.topology()
    stream.to("out")

    assert len(app.topology().nodes) == len(first.nodes) + 1


# -- operations ----------------------------------------------------------------------------
def test_stateless_operations_add_one_node_each_in_order() -> None:
    fns: dict[str, Callable[..., Any]] = {
        "map": lambda k, v: (v, k),
        "map_values": lambda v: v,
        "flat_map": lambda k, v: [(k, v)],
        "flat_map_values": lambda v: [v],
        "filter": lambda _k, v: v is not None,
        "filter_not": lambda _k, v: v is None,
        "select_key": lambda _k, v: v,
        "peek": lambda _k, _v: None,
    }
    app = sl.App("shop")
    stream = app.stream("orders")
    for op, fn in fns.items():
        stream = getattr(stream, op)(fn, name=f"step-{op}")
    stream.to("out")

    topology = app.topology()
    processors = _processors(topology)
    assert [(p.name, p.op) for p in processors] == [(f"step-{op}", op) for op in fns]
    assert [p.fn for p in processors] == list(fns.values())
    chain = [n.name for n in topology.subtopologies[0].nodes]
    assert chain[1:-1] == [f"step-{op}" for op in fns]


def test_stateless_operation_names_itself_when_name_omitted() -> None:
    app = sl.App("shop")
    mapped = app.stream("orders").map_values(str)

    assert mapped.node.startswith("MAP_VALUES-")
    assert app.topology().nodes[mapped.node].parents != ()


def test_serdes_follow_data_through_key_and_value_changes() -> None:
    app = sl.App("shop")
    stream = app.stream("orders", key_serde=serde.String(), value_serde=serde.Int64())

    stream.filter(lambda _k, v: v > 0).to("kept")
    stream.map_values(str).to("new-values")
    stream.select_key(lambda _k, v: v).to("new-keys")
    stream.map_values(str).to("explicit", value_serde=serde.String())

    topology = app.topology()
    kept = _sink_to(topology, "kept")
    assert (type(kept.key_serde), type(kept.value_serde)) == (serde.String, serde.Int64)
    new_values = _sink_to(topology, "new-values")
    assert (type(new_values.key_serde), type(new_values.value_serde)) == (serde.String, serde.Json)
    new_keys = _sink_to(topology, "new-keys")
    assert (type(new_keys.key_serde), type(new_keys.value_serde)) == (serde.Json, serde.Int64)
    explicit = _sink_to(topology, "explicit")
    assert type(explicit.value_serde) is serde.String


def test_to_records_partitioner_on_sink() -> None:
    app = sl.App("shop")

    def by_region(key: Any, value: Any, partitions: int) -> int:
        return 0

    app.stream("orders").to("out", partitioner=by_region, name="to-out")

    sink = app.topology().nodes["to-out"]
    assert isinstance(sink, SinkNode)
    assert (sink.topic, sink.partitioner, sink.internal) == ("out", by_region, False)


def test_split_routes_branches_in_order_with_default_last() -> None:
    def big(_k: Any, v: Any) -> bool:
        return bool(v > 100)

    def small(_k: Any, v: Any) -> bool:
        return bool(v < 10)

    app = sl.App("shop")
    branches = (
        app.stream("orders", value_serde=serde.Int64())
        .split(name="by-size")
        .branch(big, name="big")
        .branch(small, name="small")
        .default_branch()
    )
    for branch, stream in branches.items():
        stream.to(f"orders-{branch}")

    topology = app.topology()
    assert list(branches) == ["big", "small", "default"]
    split = topology.nodes["by-size"]
    assert isinstance(split, ProcessorNode)
    assert split.op == "split"
    assert split.fn == ((big, "by-size-big"), (small, "by-size-small"), (None, "by-size-default"))
    for branch, stream in branches.items():
        assert stream.node == f"by-size-{branch}"
        assert topology.nodes[stream.node].parents == ("by-size",)
        assert type(stream.value_serde) is serde.Int64


def test_split_has_no_default_route_when_no_default_branch() -> None:
    app = sl.App("shop")
    branches = app.stream("orders").split(name="route").branch(_has_value, name="truthy")
    out = branches.no_default_branch()

    split = app.topology().nodes["route"]
    assert list(out) == ["truthy"]
    assert isinstance(split, ProcessorNode)
    assert split.fn == ((_has_value, "route-truthy"),)


def test_process_records_function_and_stores() -> None:
    def enrich(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    app = sl.App("shop")
    app.store("customers")
    out = app.stream("orders").process(enrich, stores=("customers",), name="enrich")
    out.to("enriched")

    node = app.topology().nodes["enrich"]
    assert isinstance(node, ProcessorNode)
    assert (node.op, node.fn, node.stores) == ("process", enrich, ("customers",))
    assert (out.key_serde, out.value_serde) == (None, None)


def test_group_by_rekeys_before_repartition() -> None:
    topology = _wordcount().topology()

    sink = _sink_to(topology, "wordcount-by-word-repartition")
    (rekey,) = (topology.nodes[p] for p in sink.parents)
    assert isinstance(rekey, ProcessorNode)
    assert rekey.op == "select_key"
    aggregate = topology.nodes["word-counts"]
    assert aggregate.parents == ("by-word-repartition-source",)


def test_group_by_key_aggregates_without_repartition() -> None:
    app = sl.App("shop")
    app.stream("orders", key_serde=serde.String()).group_by_key().count("order-counts")

    topology = app.topology()
    (sub,) = topology.subtopologies
    assert [t.kind for t in topology.internal_topics.values()] == ["changelog"]
    assert sub.stores == ("order-counts",)


def test_count_stores_int64_values_under_group_key_serde() -> None:
    app = sl.App("shop")
    table = app.stream("orders", key_serde=serde.String()).group_by_key().count("order-counts")

    store = app.topology().stores["order-counts"]
    assert (type(store.key_serde), type(store.value_serde)) == (serde.String, serde.Int64)
    assert type(table.value_serde) is serde.Int64


def test_aggregate_records_initializer_and_aggregator() -> None:
    def initializer() -> int:
        return 0

    def add(_key: Any, value: Any, total: int) -> int:
        return total + int(value)

    app = sl.App("shop")
    app.stream("orders").group_by(lambda _k, v: v["customer"], "by-customer").aggregate(
        initializer, add, "spend", value_serde=serde.Int64()
    )

    node = app.topology().nodes["spend"]
    assert isinstance(node, ProcessorNode)
    assert (node.op, node.fn, node.stores) == ("aggregate", (initializer, add), ("spend",))
    assert type(app.topology().stores["spend"].value_serde) is serde.Int64


def test_reduce_records_reducer_without_initializer() -> None:
    def keep_max(aggregate: Any, value: Any) -> Any:
        return max(aggregate, value)

    app = sl.App("shop")
    app.stream("prices", value_serde=serde.Float64()).group_by_key().reduce(keep_max, "max-price")

    node = app.topology().nodes["max-price"]
    assert isinstance(node, ProcessorNode)
    assert (node.op, node.fn) == ("aggregate", (None, keep_max))
    assert type(app.topology().stores["max-price"].value_serde) is serde.Float64


# -- the processor decorator ---------------------------------------------------------------
def test_processor_decorator_records_source_sinks_and_stores() -> None:
    app = sl.App("shop")

    @app.processor(source="orders", sinks=("inventory", "audit-log"), stores=("seen-orders",))
    def route_order(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    topology = app.topology()
    node = topology.nodes["route_order"]
    assert isinstance(node, ProcessorNode)
    assert (node.op, node.fn, node.stores) == ("process", route_order, ("seen-orders",))
    (source,) = (topology.nodes[p] for p in node.parents)
    assert isinstance(source, SourceNode)
    assert source.topics == ("orders",)
    (sub,) = topology.subtopologies
    assert sub.sink_topics == ("inventory", "audit-log")
    for topic in ("inventory", "audit-log"):
        sink = _sink_to(topology, topic)
        assert sink.parents == ("route_order",)
        assert (type(sink.key_serde), type(sink.value_serde)) == (serde.String, serde.Json)
    assert topology.stores["seen-orders"].changelog == "shop-seen-orders-changelog"


def test_processor_decorator_returns_function_unchanged() -> None:
    app = sl.App("shop")

    def handle(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    assert app.processor(source="orders")(handle) is handle


def test_processor_decorator_uses_given_name_and_serdes() -> None:
    app = sl.App("shop")

    @app.processor(
        source=["orders", "refunds"],
        sinks=("out",),
        name="bookkeeper",
        key_serde=serde.Bytes(),
        value_serde=serde.String(),
    )
    def handle(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    topology = app.topology()
    source = topology.nodes[topology.nodes["bookkeeper"].parents[0]]
    assert isinstance(source, SourceNode)
    assert source.topics == ("orders", "refunds")
    assert (type(source.key_serde), type(source.value_serde)) == (serde.Bytes, serde.String)
    assert type(_sink_to(topology, "out").value_serde) is serde.String


def test_processor_decorator_keeps_store_declared_with_app_store() -> None:
    app = sl.App("shop")
    app.store("seen", key_serde=serde.Bytes(), logged=False)

    @app.processor(source="orders", stores=("seen",))
    def handle(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    store = app.topology().stores["seen"]
    assert type(store.key_serde) is serde.Bytes
    assert store.changelog is None


def test_processor_decorator_allows_two_processors_sinking_to_same_topic() -> None:
    app = sl.App("shop")

    @app.processor(source="orders", sinks=("audit-log",))
    def audit_order(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    @app.processor(source="refunds", sinks=("audit-log",))
    def audit_refund(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    assert len(app.topology().subtopologies) == 2


def test_processor_decorator_accepts_stores_as_any_iterable() -> None:
    app = sl.App("shop")

    @app.processor(source="orders", stores=(name for name in ["seen"]))
    def handle(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    node = app.topology().nodes["handle"]
    assert isinstance(node, ProcessorNode)
    assert node.stores == ("seen",)


def test_group_by_key_raises_when_key_changed_without_repartition() -> None:
    app = sl.App("shop")
    rekeyed = app.stream("in").map(lambda k, v: (v, k))

    with pytest.raises(sl.TopologyError, match="repartition"):
        rekeyed.group_by_key()
    with pytest.raises(sl.TopologyError, match="repartition"):
        rekeyed.filter(lambda k, v: True).to_table("t")
    rekeyed.repartition("moved").group_by_key().count("c")  # fine after a repartition


def test_build_raises_when_store_declared_but_unused() -> None:
    app = sl.App("shop")
    app.store("unused")
    app.stream("in").to("out")

    with pytest.raises(sl.TopologyError, match="unused"):
        app.topology()
