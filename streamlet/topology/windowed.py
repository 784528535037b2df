"""The windowed DSL: ``GroupedStream.windowed_by(windows, emit)`` returns a
``WindowedStream`` (tumbling, hopping, sliding) or a ``SessionWindowedStream``; their
``count``, ``reduce`` and ``aggregate`` return a ``Table`` keyed by ``Windowed(key, start,
end)``, materialized in a windowed store named by ``name``.

A store keeps windows for ``retention_ms``: by default the window size (or the gap) plus the
grace, which is as long as a window can still change; ask for more to query closed windows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlet.errors import TopologyError
from streamlet.serde import Int64, Json, Serde
from streamlet.serde.windowed import SessionWindowed, Windowed
from streamlet.topology.builder import TopologyBuilder
from streamlet.topology.stream import Table
from streamlet.topology.window_nodes import (
    Aggregator,
    Initializer,
    Merger,
    SessionAggregateNode,
    SlidingAggregateNode,
    WindowAggregateNode,
)
from streamlet.topology.windows import (
    AnyWindows,
    Emit,
    FixedWindows,
    HoppingWindows,
    SessionWindows,
    SlidingWindows,
    TumblingWindows,
)


def _count_init() -> int:
    return 0


def _count_add(_key: Any, _value: Any, agg: int) -> int:
    return agg + 1


def _count_merge(_key: Any, a: int, b: int) -> int:
    return a + b


def _no_init() -> None:
    return None


def _reducing(fn: Callable[[Any, Any], Any]) -> Aggregator:
    def aggregator(_key: Any, value: Any, agg: Any) -> Any:
        return value if agg is None else fn(agg, value)

    aggregator.__qualname__ = getattr(fn, "__qualname__", "reduce")
    return aggregator


def _reducing_merger(fn: Callable[[Any, Any], Any]) -> Merger:
    def merger(_key: Any, a: Any, b: Any) -> Any:
        return b if a is None else a if b is None else fn(a, b)

    merger.__qualname__ = getattr(fn, "__qualname__", "reduce")
    return merger


def _retention(what: str, minimum: int, retention_ms: int | None) -> int:
    if retention_ms is None:
        return minimum
    if not isinstance(retention_ms, int) or retention_ms < 0:
        raise TopologyError(f"{what}: retention_ms must be an int >= 0, not {retention_ms!r}")
    return max(minimum, retention_ms)


class _Windowed:
    def __init__(
        self,
        builder: TopologyBuilder,
        node: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        emit: Emit,
    ) -> None:
        if not isinstance(emit, Emit):
            raise TopologyError(
                f"emit must be sl.Emit.ON_WINDOW_UPDATE or ON_WINDOW_CLOSE, not {emit!r}"
            )
        self._builder = builder
        self._node = node
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._emit = emit


class WindowedStream(_Windowed):
    """A grouped stream cut into tumbling, hopping or sliding windows."""

    def __init__(
        self,
        builder: TopologyBuilder,
        node: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        windows: FixedWindows | SlidingWindows,
        emit: Emit,
    ) -> None:
        super().__init__(builder, node, key_serde, value_serde, emit)
        self._windows = windows

    def count(self, name: str, *, retention_ms: int | None = None) -> Table:
        return self._aggregate(name, _count_init, _count_add, Int64(), retention_ms)

    def reduce(
        self,
        fn: Callable[[Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
        retention_ms: int | None = None,
    ) -> Table:
        """``fn(aggregate, value)``; a window's first value is its first aggregate."""
        vs = value_serde or self._value_serde
        return self._aggregate(name, _no_init, _reducing(fn), vs, retention_ms)

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
        retention_ms: int | None = None,
    ) -> Table:
        """``initializer()`` once per window, then ``aggregator(key, value, aggregate)``."""
        return self._aggregate(name, initializer, aggregator, value_serde or Json(), retention_ms)

    def _aggregate(
        self,
        name: str,
        initializer: Initializer,
        aggregator: Aggregator,
        value_serde: Serde[Any],
        retention_ms: int | None,
    ) -> Table:
        b, w = self._builder, self._windows
        b.require_name(name, "a windowed aggregation")
        if isinstance(w, SlidingWindows):
            return self._sliding(w, name, initializer, aggregator, value_serde, retention_ms)
        retention = _retention(name, w.size_ms + w.grace_ms, retention_ms)
        b.add_store(name, self._key_serde, value_serde, kind="window", retention_ms=retention)
        node = WindowAggregateNode(
            name,
            (self._node,),
            op="window_aggregate",
            stores=(name,),
            windows=w,
            emit=self._emit,
            initializer=initializer,
            aggregator=aggregator,
            store=name,
            retention_ms=retention,
        )
        b.add(node)
        return Table(b, name, Windowed(self._key_serde, w.size_ms), value_serde, name)

    def _sliding(
        self,
        w: SlidingWindows,
        name: str,
        initializer: Initializer,
        aggregator: Aggregator,
        value_serde: Serde[Any],
        retention_ms: int | None,
    ) -> Table:
        b = self._builder
        retention = _retention(name, w.time_difference_ms + w.grace_ms, retention_ms)
        b.add_store(name, self._key_serde, value_serde, kind="sliding", retention_ms=retention)
        node = SlidingAggregateNode(
            name,
            (self._node,),
            op="sliding_aggregate",
            stores=(name,),
            windows=w,
            emit=self._emit,
            initializer=initializer,
            aggregator=aggregator,
            store=name,
            retention_ms=retention,
            input_serde=self._value_serde,
        )
        b.add(node)
        # [start, end] are both inclusive, so end = start + time difference
        return Table(b, name, Windowed(self._key_serde, w.time_difference_ms), value_serde, name)


class SessionWindowedStream(_Windowed):
    """A grouped stream cut into sessions of activity per key."""

    def __init__(
        self,
        builder: TopologyBuilder,
        node: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        windows: SessionWindows,
        emit: Emit,
    ) -> None:
        super().__init__(builder, node, key_serde, value_serde, emit)
        self._windows = windows

    def count(self, name: str, *, retention_ms: int | None = None) -> Table:
        return self._aggregate(name, _count_init, _count_add, _count_merge, Int64(), retention_ms)

    def reduce(
        self,
        fn: Callable[[Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
        retention_ms: int | None = None,
    ) -> Table:
        """``fn(aggregate, value)``, also merging two sessions' aggregates."""
        vs = value_serde or self._value_serde
        return self._aggregate(
            name, _no_init, _reducing(fn), _reducing_merger(fn), vs, retention_ms
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        merger: Callable[[Any, Any, Any], Any],
        name: str,
        *,
        value_serde: Serde[Any] | None = None,
        retention_ms: int | None = None,
    ) -> Table:
        """``aggregator(key, value, aggregate)``; ``merger(key, agg1, agg2)`` joins two
        sessions a record bridges."""
        return self._aggregate(
            name, initializer, aggregator, merger, value_serde or Json(), retention_ms
        )

    def _aggregate(
        self,
        name: str,
        initializer: Initializer,
        aggregator: Aggregator,
        merger: Merger,
        value_serde: Serde[Any],
        retention_ms: int | None,
    ) -> Table:
        b, w = self._builder, self._windows
        b.require_name(name, "a session aggregation")
        retention = _retention(name, w.inactivity_gap_ms + w.grace_ms, retention_ms)
        b.add_store(name, self._key_serde, value_serde, kind="session", retention_ms=retention)
        node = SessionAggregateNode(
            name,
            (self._node,),
            op="session_aggregate",
            stores=(name,),
            windows=w,
            emit=self._emit,
            initializer=initializer,
            aggregator=aggregator,
            merger=merger,
            store=name,
            retention_ms=retention,
        )
        b.add(node)
        return Table(b, name, SessionWindowed(self._key_serde), value_serde, name)


def windowed_by(
    builder: TopologyBuilder,
    node: str,
    key_serde: Serde[Any],
    value_serde: Serde[Any],
    windows: AnyWindows,
    emit: Emit,
) -> WindowedStream | SessionWindowedStream:
    if isinstance(windows, SessionWindows):
        return SessionWindowedStream(builder, node, key_serde, value_serde, windows, emit)
    if isinstance(windows, TumblingWindows | HoppingWindows | SlidingWindows):
        return WindowedStream(builder, node, key_serde, value_serde, windows, emit)
    raise TopologyError(
        "windowed_by() takes sl.TumblingWindows, sl.HoppingWindows, sl.SlidingWindows or "
        f"sl.SessionWindows, not {windows!r}"
    )
