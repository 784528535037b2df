"""``to_mermaid`` and ``to_dot``: every node, topic and store drawn, with edges between them."""

from __future__ import annotations

import re

import streamlet as sl
from streamlet import serde
from streamlet.topology.render import to_dot, to_mermaid


def _wordcount() -> sl.App:
    app = sl.App("wordcount")
    (
        app.stream("text-lines", key_serde=serde.String(), value_serde=serde.String())
        .flat_map_values(lambda line: line.split(), name="split-words")
        .group_by(lambda _k, word: word, name="by-word")
        .count(name="word-counts")
        .to_stream()
        .to("word-counts", value_serde=serde.Int64(), name="emit-counts")
    )
    return app


def _labels(text: str, pattern: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(pattern, text)}


def test_mermaid_links_topics_nodes_and_stores_across_subtopologies() -> None:
    text = to_mermaid(_wordcount().topology())
    assert text.startswith("flowchart TD\n")
    assert text.count("subgraph ") == 2 and text.count("\n  end") == 2
    labels = {
        **_labels(text, r"(\w+)\[/\"([^\"]+)\"/\]"),  # topics
        **_labels(text, r"(\w+)\(\"([^\"<]+)<br/>"),  # nodes
        **_labels(text, r"(\w+)\[\(\"([^\"]+)\"\)\]"),  # stores
    }
    edges = {(labels[a], labels[b]) for a, b in re.findall(r"(\w+) --> (\w+)", text)}
    assert ("text-lines", "SOURCE-0000000001") in edges
    assert ("split-words", "SELECT_KEY-0000000002") in edges
    assert ("by-word-repartition-sink", "wordcount-by-word-repartition") in edges
    assert ("wordcount-by-word-repartition", "by-word-repartition-source") in edges
    assert ("emit-counts", "word-counts") in edges
    assert len(edges) == 11


def test_dot_draws_clusters_and_escapes_labels() -> None:
    app = sl.App("quote")
    app.stream('we"ird').filter(lambda _k, _v: True, name="keep").to("out")
    text = to_dot(app.topology())
    assert text.startswith('digraph "quote" {') and text.endswith("}")
    assert 'label="we\\"ird", shape=parallelogram' in text
    assert "subgraph cluster_0 {" in text
    assert 'label="keep\\nfilter"' in text
    assert len(re.findall(r"^  \w+ -> \w+;$", text, re.M)) == 4
