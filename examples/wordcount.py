"""Word count: the hello-world of stream processing, exactly once.

    streamlet run wordcount:app          (from this directory, with Kafka on localhost:9092)

Reads lines from ``text-lines``, splits them into words, re-keys by word through the
repartition topic ``wordcount-by-word-repartition``, counts per word in the RocksDB store
``word-counts`` (backed by ``wordcount-word-counts-changelog``), and writes every updated
count to ``word-counts``.
"""

from __future__ import annotations

import os

import streamlet as sl
from streamlet import serde

app = sl.App(
    os.environ.get("WORDCOUNT_APP_ID", "wordcount"),
    bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"),
    processing_guarantee="exactly_once_v2",
    commit_interval_ms=100,
    state_dir=os.environ.get("WORDCOUNT_STATE_DIR", ".streamlet"),
    # plain UTF-8 keys (not JSON strings), so Java's StringDeserializer reads the output
    default_key_serde=serde.String(),
)

lines = app.stream(
    os.environ.get("WORDCOUNT_INPUT", "text-lines"),
    key_serde=serde.String(),
    value_serde=serde.String(),
)
(
    lines.flat_map_values(lambda line: line.lower().split())
    .group_by(lambda _key, word: word, name="by-word")
    .count(name="word-counts")
    .to_stream()
    .to(os.environ.get("WORDCOUNT_OUTPUT", "word-counts"), value_serde=serde.Int64())
)
