"""Typed operators: node type -> compile function, the one table ``compile.py`` consults.

A new operator adds a node dataclass (streamlet/topology/), a runtime module here, and one
entry below; nothing else in the compiler changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlet.runtime.ops.fk_join import (
    compile_fk_receive,
    compile_fk_resolve,
    compile_fk_right_update,
    compile_fk_send,
)
from streamlet.runtime.ops.global_join import compile_global_join
from streamlet.runtime.ops.session_aggregate import compile_session_aggregate
from streamlet.runtime.ops.sliding_aggregate import compile_sliding_aggregate
from streamlet.runtime.ops.stream_join import compile_stream_join
from streamlet.runtime.ops.stream_table_join import compile_stream_table_join
from streamlet.runtime.ops.table_table_join import compile_table_table_join
from streamlet.runtime.ops.window_aggregate import compile_window_aggregate
from streamlet.runtime.userfn import Emit, TaskServices
from streamlet.topology.fk_nodes import (
    FkResponseResolveNode,
    FkRightUpdateNode,
    FkSubscriptionReceiveNode,
    FkSubscriptionSendNode,
)
from streamlet.topology.global_nodes import GlobalJoinNode
from streamlet.topology.join_nodes import StreamJoinNode, StreamTableJoinNode, TableTableJoinNode
from streamlet.topology.window_nodes import (
    SessionAggregateNode,
    SlidingAggregateNode,
    WindowAggregateNode,
)

Compiler = Callable[[Any, Emit, dict[str, Emit], TaskServices], Emit]
"""``(node, emit_to_children, children_by_name, task) -> the node's emit``."""

COMPILERS: dict[type, Compiler] = {
    WindowAggregateNode: compile_window_aggregate,
    SessionAggregateNode: compile_session_aggregate,
    SlidingAggregateNode: compile_sliding_aggregate,
    GlobalJoinNode: compile_global_join,
    StreamTableJoinNode: compile_stream_table_join,
    TableTableJoinNode: compile_table_table_join,
    StreamJoinNode: compile_stream_join,
    FkSubscriptionSendNode: compile_fk_send,
    FkSubscriptionReceiveNode: compile_fk_receive,
    FkRightUpdateNode: compile_fk_right_update,
    FkResponseResolveNode: compile_fk_resolve,
}
