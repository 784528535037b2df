"""How a stream joins a global table (``GlobalJoinNode``).

Only stream records trigger: each looks the table up under ``key_mapper(key, value)`` in
the worker's own copy of the whole table, so no co-partitioning is needed. The result keeps
the stream record's key, timestamp and headers; its value is ``joiner(value, table_value)``.

As in Kafka Streams: a record with a null value never joins (dropped, counted, logged); a
null mapped key finds no row (inner: dropped, counted, logged; left: ``joiner(value,
None)``); a mapped key with no row is a plain miss (inner: nothing; left: ``joiner(value,
None)``).
"""

from __future__ import annotations

import logging

from streamlet.record import Record
from streamlet.runtime.metrics import DROPPED
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.topology.global_nodes import GlobalJoinNode

log = logging.getLogger("streamlet.joins")


def compile_global_join(
    n: GlobalJoinNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    table = task.global_store(n.table)
    get = table.get
    joiner, key_mapper, left = n.joiner, n.key_mapper, n.left
    null_values = DROPPED.labels("null_value")
    null_keys = DROPPED.labels("null_join_key")

    def drop(r: Record, why: str) -> None:
        log.warning(
            "%s: skipping a record with %s (topic %s, partition %s, offset %s)",
            n.name,
            why,
            r.topic,
            r.partition,
            r.offset,
        )

    def emit(r: Record) -> None:
        if r.value is None:
            null_values.inc()
            drop(r, "a null value")
            return
        try:
            table_key = key_mapper(r.key, r.value)
        except Exception as exc:
            raise user_error(exc, n.name, key_mapper) from exc
        if table_key is None:
            if not left:
                null_keys.inc()
                drop(r, "a null join key")
                return
            row = None
        else:
            row = get(table_key)
            if row is None and not left:
                return
        try:
            value = joiner(r.value, row)
        except Exception as exc:
            raise user_error(exc, n.name, joiner) from exc
        out(Record(r.key, value, r.timestamp, r.headers, r.topic, r.partition, r.offset))

    return emit
