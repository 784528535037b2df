"""How a stream-table join runs (``StreamTableJoinNode``): a lookup per stream record.

Only stream records reach this node; the table's own records update its store upstream
(a tombstone deletes the row) and trigger nothing. A stream record with a null value is
dropped, and so is one with a null key in an inner join (counted, logged once): it can match
no row. A left join joins a null-key record with None, as Kafka Streams 4.0 does (KIP-962).
The result keeps the stream record's key, timestamp and headers.
"""

from __future__ import annotations

from streamlet.record import Record
from streamlet.runtime.dropped import DroppedRecords
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.topology.join_nodes import JoinKind, StreamTableJoinNode


def compile_stream_table_join(
    n: StreamTableJoinNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    table = task.store(n.table_store)
    joiner = n.joiner
    inner = n.kind is JoinKind.INNER
    dropped = DroppedRecords(task, n.name)

    def emit(r: Record) -> None:
        if r.value is None:
            dropped.drop(r, "join_null_value")
            return
        if r.key is None:
            if inner:
                dropped.drop(r, "join_null_key")
                return
            row = None
        else:
            row = table.get(r.key)
            if row is None and inner:
                return
        try:
            joined = joiner(r.value, row)
        except Exception as exc:
            raise user_error(exc, n.name, joiner) from exc
        out(Record(r.key, joined, r.timestamp, r.headers, r.topic, r.partition, r.offset))

    return emit
