"""What compiled nodes share: the emit type, the task services, user-function errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from streamlet.errors import ProcessingError
from streamlet.record import Record
from streamlet.state.cache import Flush, RecordCache
from streamlet.topology.nodes import ProcessorNode

Emit = Callable[[Record], None]
Produce = Callable[[str, bytes | None, bytes | None, int, int, Any], None]
"""``(topic, key, value, partition (-1: the partitioner's choice), timestamp, headers)``."""
ProduceAll = Callable[[str, Iterable[tuple[bytes, bytes | None]], int], None]
"""``(topic, (key, value) pairs, partition)``: many records without headers in one call (a
store's changelog at commit), stamped with the wall clock."""


class TaskServices(Protocol):
    """What compiled nodes need from their task."""

    task_id: str
    stream_time: int
    late_dropped: int  # records dropped by windowed operators as late
    dropped: dict[str, int]  # records operators dropped by their semantics, per reason

    produce: Produce
    partitions_of: Callable[[str], int]

    def store(self, name: str) -> Any: ...

    def global_store(self, name: str) -> Any: ...

    def node_context(self, node: ProcessorNode, children: dict[str, Emit]) -> Any: ...

    def record_cache(self, node: str, flush: Flush) -> RecordCache | None:
        """The node's record cache (None: the worker has none; forward every update)."""
        ...


def describe_function(fn: Any) -> tuple[str, int | None, str]:
    """(qualified name, first line, file) of a user function or callable object."""
    target = getattr(fn, "__func__", fn)
    code = getattr(target, "__code__", None)
    if code is None and not isinstance(target, type):  # a callable object
        code = getattr(type(target).__call__, "__code__", None)
    name = getattr(target, "__qualname__", type(target).__qualname__)
    module = getattr(target, "__module__", None)
    qual = f"{module}.{name}" if module else name
    return qual, getattr(code, "co_firstlineno", None), getattr(code, "co_filename", "?")


def user_error(exc: BaseException, node: str, fn: Any) -> ProcessingError:
    qual, line, file = describe_function(fn)
    return ProcessingError(
        f"processor {node!r} failed in {qual} ({file}:{line}): {type(exc).__name__}: {exc}",
        processor=node,
        function=qual,
        line=line,
    )
