"""How one side of a table-table equi-join runs (``TableTableJoinNode``).

A change of this side's table arrives after its store was updated; the other side's store
holds that table's current row. The new result row is ``joiner(left, right)`` when the join
kind keeps the pair (inner: both rows; left: a left row; outer: either), else absent. An
absent result is forwarded as a tombstone only if the result table had a row for the key
(so a delete never reaches a key that was never joined), and absent-to-absent forwards
nothing; a joiner returning None deletes the row too: this reproduces the Kafka Streams docs' table-table join table cell by cell. The
result table's store is updated first and downstream gets ``Change(old, new)``.
"""

from __future__ import annotations

from streamlet.record import Record
from streamlet.runtime.ops_table import Change
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.topology.join_nodes import JoinKind, TableTableJoinNode


def compile_table_table_join(
    n: TableTableJoinNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    other = task.store(n.other_store)
    result = task.store(n.result_store)
    joiner, this_is_left = n.joiner, n.this_is_left
    kind = n.kind

    def keeps(left: object, right: object) -> bool:
        if kind is JoinKind.INNER:
            return left is not None and right is not None
        if kind is JoinKind.LEFT:
            return left is not None
        return left is not None or right is not None

    def emit(r: Record) -> None:
        key = r.key
        if key is None:  # a table has no row for a null key
            return
        this_row, other_row = r.value.new, other.get(key)
        left, right = (this_row, other_row) if this_is_left else (other_row, this_row)
        old = result.get(key)
        new = None
        if keeps(left, right):
            try:
                new = joiner(left, right)
            except Exception as exc:
                raise user_error(exc, n.name, joiner) from exc
        if new is not None:
            result.put(key, new)
        elif old is None:
            return  # nothing to delete: no tombstone for a key that was never joined
        else:
            result.delete(key)
        out(Record(key, Change(old, new), r.timestamp, r.headers, r.topic, r.partition, r.offset))

    return emit
