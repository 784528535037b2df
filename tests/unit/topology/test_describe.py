"""``Topology.describe()``: sub-topologies, sources, processors, stores, sinks, internal topics.

The assertions parse the text into sections and node blocks, so they check what is said
about each node, not the exact layout of the whole text.
"""

from __future__ import annotations

import streamlet as sl
from streamlet import serde


def _wordcount() -> sl.App:
    app = sl.App("wordcount")
    lines = app.stream("text-lines", key_serde=serde.String(), value_serde=serde.String())
    (
        lines.flat_map_values(lambda line: line.lower().split(), name="split-words")
        .group_by(lambda _key, word: word, name="by-word")
        .count(name="word-counts")
        .to_stream()
        .to("word-counts", value_serde=serde.Int64(), name="emit-counts")
    )
    return app


def _subtopologies(text: str) -> dict[str, list[str]]:
    """``"Sub-topology: N" -> its node label lines`` (details stripped)."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("  Sub-topology: "):
            current = out.setdefault(line.strip(), [])
        elif not line.startswith("    "):
            current = None
        elif current is not None and not line.startswith("      "):
            current.append(line.strip())
    return out


def _blocks(text: str) -> dict[str, list[str]]:
    """``node label -> its detail lines`` (stores, -->, <--)."""
    out: dict[str, list[str]] = {}
    label: str | None = None
    for line in text.splitlines():
        if line.startswith("      ") and label is not None:
            out[label].append(line.strip())
        elif line.startswith("    ") and line.strip().startswith(
            ("Source:", "Processor:", "Sink:")
        ):
            label = line.strip()
            out[label] = []
        else:
            label = None
    return out


def _section(text: str, title: str) -> list[str]:
    """The lines listed under a top-level section such as ``Stores:``."""
    lines = text.splitlines()
    start = lines.index(f"  {title}") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        body.append(line.strip())
    return body


def _auto_named(app: sl.App, prefix: str) -> str:
    """The one node whose generated name starts with ``prefix`` (e.g. ``SELECT_KEY-``)."""
    (name,) = [n for n in app.topology().nodes if n.startswith(prefix)]
    return name


def _in_order(expected: list[str], actual: list[str]) -> bool:
    """``expected`` appears in ``actual`` in order (other lines may come between)."""
    rest = iter(actual)
    return all(line in rest for line in expected)


def test_describe_starts_with_application_id() -> None:
    assert _wordcount().describe().splitlines()[0] == "Topology: wordcount"


def test_describe_matches_topology_describe() -> None:
    app = _wordcount()

    assert app.describe() == app.topology().describe()


def test_describe_lists_nodes_under_their_subtopology() -> None:
    app = _wordcount()
    source, rekey = _auto_named(app, "SOURCE-"), _auto_named(app, "SELECT_KEY-")

    subs = _subtopologies(app.describe())
    assert list(subs) == ["Sub-topology: 0", "Sub-topology: 1"]
    assert subs["Sub-topology: 0"] == [
        f"Source: {source} (topics: [text-lines])",
        "Processor: split-words (flat_map_values)",
        f"Processor: {rekey} (select_key)",
        "Sink: by-word-repartition-sink (topic: wordcount-by-word-repartition)",
    ]
    downstream = subs["Sub-topology: 1"]
    assert _in_order(
        [
            "Source: by-word-repartition-source (topics: [wordcount-by-word-repartition])",
            "Processor: word-counts (aggregate)",
            "Sink: emit-counts (topic: word-counts)",
        ],
        downstream,
    ), downstream


def test_describe_shows_edges_both_ways() -> None:
    app = _wordcount()
    source, rekey = _auto_named(app, "SOURCE-"), _auto_named(app, "SELECT_KEY-")

    blocks = _blocks(app.describe())
    assert blocks[f"Source: {source} (topics: [text-lines])"] == ["--> split-words"]
    assert blocks["Processor: split-words (flat_map_values)"] == [
        f"--> {rekey}",
        f"<-- {source}",
    ]
    assert blocks["Sink: by-word-repartition-sink (topic: wordcount-by-word-repartition)"] == [
        f"<-- {rekey}"
    ]


def test_describe_shows_stores_of_processor() -> None:
    blocks = _blocks(_wordcount().describe())

    details = blocks["Processor: word-counts (aggregate)"]
    assert details[0] == "stores: [word-counts]"
    assert details[-1] == "<-- by-word-repartition-source"


def test_describe_shows_sink_reading_processor() -> None:
    app = sl.App("shop")
    app.stream("orders").map_values(str, name="stringify").to("out", name="to-out")

    blocks = _blocks(app.describe())
    assert blocks["Processor: stringify (map_values)"][0] == "--> to-out"
    assert blocks["Sink: to-out (topic: out)"] == ["<-- stringify"]


def test_describe_lists_stores_with_changelogs() -> None:
    app = _wordcount()
    app.store("scratch", logged=False)
    app.stream("orders").process(lambda r, ctx: None, stores=("scratch",))

    assert _section(app.describe(), "Stores:") == [
        "word-counts (changelog: wordcount-word-counts-changelog)",
        "scratch (not logged)",
    ]


def test_describe_lists_internal_topics_with_kind() -> None:
    assert _section(_wordcount().describe(), "Internal topics:") == [
        "wordcount-by-word-repartition (repartition)",
        "wordcount-word-counts-changelog (changelog)",
    ]


def test_describe_shows_partitions_of_internal_topic_when_fixed() -> None:
    app = sl.App("shop")
    app.stream("orders").repartition("by-region", partitions=4).to("out")

    assert "shop-by-region-repartition (repartition, partitions=4)" in _section(
        app.describe(), "Internal topics:"
    )


def test_describe_omits_store_and_internal_sections_when_stateless() -> None:
    app = sl.App("shop")
    app.stream("orders").filter(lambda _k, v: v is not None).to("out")

    lines = app.describe().splitlines()
    assert "  Stores:" not in lines
    assert "  Internal topics:" not in lines


def test_describe_shows_decorated_processor_with_sinks_and_store() -> None:
    app = sl.App("shop")

    @app.processor(source="orders", sinks=("inventory", "audit-log"), stores=("seen-orders",))
    def route_order(record: sl.Record, ctx: sl.ProcessorContext) -> None: ...

    text = app.describe()
    blocks = _blocks(text)
    details = blocks["Processor: route_order (process)"]
    assert details[:2] == [
        "stores: [seen-orders]",
        "--> route_order->inventory, route_order->audit-log",
    ]
    assert blocks["Sink: route_order->inventory (topic: inventory)"] == ["<-- route_order"]
    assert blocks["Sink: route_order->audit-log (topic: audit-log)"] == ["<-- route_order"]
    assert "seen-orders (changelog: shop-seen-orders-changelog)" in _section(text, "Stores:")


def test_describe_shows_split_branches_as_children() -> None:
    app = sl.App("shop")
    branches = (
        app.stream("orders")
        .split(name="by-size")
        .branch(lambda _k, v: v > 100, name="big")
        .default_branch()
    )
    branches["big"].to("big-orders")
    branches["default"].to("other-orders")

    blocks = _blocks(app.describe())
    assert "--> by-size-big, by-size-default" in blocks["Processor: by-size (split)"]
    assert blocks["Processor: by-size-big (merge)"][-1] == "<-- by-size"


def test_describe_shows_merge_with_all_parents() -> None:
    app = sl.App("shop")
    orders, refunds = app.stream("orders"), app.stream("refunds")
    orders.merge(refunds, name="payments").to("out")

    blocks = _blocks(app.describe())
    assert f"<-- {orders.node}, {refunds.node}" in blocks["Processor: payments (merge)"]
    assert f"Source: {refunds.node} (topics: [refunds])" in blocks


def test_describe_lists_every_topic_of_multi_topic_source() -> None:
    app = sl.App("shop")
    app.stream(["orders-eu", "orders-us"]).to("orders")

    (sub,) = _subtopologies(app.describe()).values()
    assert sub[0].endswith("(topics: [orders-eu, orders-us])")


def test_describe_numbers_one_subtopology_per_connected_part() -> None:
    app = sl.App("shop")
    app.stream("a").to("b")
    app.stream("c").to("d")
    app.stream("e").to("f")

    assert list(_subtopologies(app.describe())) == [
        "Sub-topology: 0",
        "Sub-topology: 1",
        "Sub-topology: 2",
    ]
