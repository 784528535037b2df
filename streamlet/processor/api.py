"""What user processors see: ``Processor`` and ``ProcessorContext``.

A processor is either a function ``(record, ctx) -> None`` or an object with ``init(ctx)``,
``process(record)`` and ``close()``. Everything runs on the task's thread: ``process``,
punctuation callbacks and ``close`` never run concurrently for one task.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Literal, Protocol

from streamlet.record import Record


class Punctuation(enum.StrEnum):
    """When a punctuator fires; a str enum, so ``"stream_time"`` and ``"wall_clock"`` work too."""

    STREAM_TIME = "stream_time"
    """Driven by record timestamps: time advances only when records arrive."""
    WALL_CLOCK = "wall_clock"
    """Driven by the system clock, records or not."""


PunctuationType = Literal["stream_time", "wall_clock"] | Punctuation


class ProcessorContext(Protocol):
    """The task-scoped handle a processor uses to emit records and reach its stores."""

    @property
    def task_id(self) -> str:
        """``<sub-topology>_<partition>``, as in Kafka Streams."""
        ...

    @property
    def stream_time(self) -> int:
        """The largest record timestamp this task has seen (ms); -1 before the first."""
        ...

    def forward(self, record: Record, to: str | None = None) -> None:
        """Send ``record`` to every child, or only to the child node (or sink) named ``to``."""
        ...

    def store(self, name: str) -> Any:
        """The key-value store ``name``, which this processor must have declared."""
        ...

    def schedule(
        self, interval_ms: int, kind: PunctuationType, callback: Callable[[int], None]
    ) -> None:
        """Call ``callback(timestamp_ms)`` every ``interval_ms`` of stream or wall-clock time.

        As in Kafka Streams: ``wall_clock`` first fires one interval after scheduling;
        ``stream_time`` fires after the first record is processed, then whenever stream time
        reaches the next multiple of ``interval_ms`` (intervals skipped by a jump in time
        fire once, not once each). The callback runs on the task's thread and may forward and
        use stores."""
        ...

    def commit(self) -> None:
        """Ask for a commit as soon as the current record is done (a request, not a sync)."""
        ...


class Processor(Protocol):
    """Kafka Streams' processor shape. ``init`` is where punctuators are usually scheduled."""

    def init(self, ctx: ProcessorContext) -> None: ...

    def process(self, record: Record) -> None: ...

    def close(self) -> None: ...
