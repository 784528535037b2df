"""Window specifications (inert data) and the ``Windowed`` key of a windowed table.

Time windows are ``[start, end)`` in milliseconds with starts at multiples of the advance
(never negative); sliding windows follow KIP-450 (``[start, start + time difference]``, both
ends inclusive: each record's left window and, when later records fall in it, its right
window); sessions are ``[first, last]``. Grace is how far behind stream time a record may be
and still join its window.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from streamlet.errors import TopologyError


class Emit(enum.Enum):
    """When a windowed aggregation emits: on every update, or once when the window closes."""

    ON_WINDOW_UPDATE = "on_window_update"
    ON_WINDOW_CLOSE = "on_window_close"


class Windowed(NamedTuple):
    """The key of a windowed table row: the record key and its window (ms)."""

    key: Any
    start: int
    end: int


def _check(what: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise TopologyError(f"{what}: {name} must be an int of milliseconds, not {value!r}")
        if value < 0 or (value == 0 and not name.startswith("grace")):
            bound = ">= 0" if name.startswith("grace") else "> 0"
            raise TopologyError(f"{what}: {name} must be {bound}, not {value}")


def _starts(timestamp: int, size: int, advance: int) -> range:
    first = max(0, timestamp - size + advance)
    return range(first - first % advance, timestamp + 1, advance)


@dataclass(frozen=True)
class TumblingWindows:
    """Non-overlapping windows of ``size_ms``: hopping windows whose advance is their size."""

    size_ms: int
    grace_ms: int = 0

    def __post_init__(self) -> None:
        _check("TumblingWindows", size_ms=self.size_ms, grace_ms=self.grace_ms)

    @property
    def kind(self) -> str:
        return "tumbling"

    @property
    def advance_ms(self) -> int:
        return self.size_ms

    def starts_for(self, timestamp: int) -> range:
        """Starts of the windows that contain ``timestamp``, ascending."""
        return _starts(timestamp, self.size_ms, self.size_ms)


@dataclass(frozen=True)
class HoppingWindows:
    """Windows of ``size_ms`` starting every ``advance_ms`` (``0 < advance_ms <= size_ms``)."""

    size_ms: int
    advance_ms: int
    grace_ms: int = 0

    def __post_init__(self) -> None:
        _check(
            "HoppingWindows",
            size_ms=self.size_ms,
            advance_ms=self.advance_ms,
            grace_ms=self.grace_ms,
        )
        if self.advance_ms > self.size_ms:
            raise TopologyError(
                f"HoppingWindows: advance_ms ({self.advance_ms}) must be <= size_ms "
                f"({self.size_ms}); a larger advance leaves gaps no window covers"
            )

    @property
    def kind(self) -> str:
        return "hopping"

    def starts_for(self, timestamp: int) -> range:
        """Starts of the windows that contain ``timestamp``, ascending."""
        return _starts(timestamp, self.size_ms, self.advance_ms)


@dataclass(frozen=True)
class SlidingWindows:
    """KIP-450 sliding windows: records at most ``time_difference_ms`` apart share a window."""

    time_difference_ms: int
    grace_ms: int = 0

    def __post_init__(self) -> None:
        _check("SlidingWindows", time_difference_ms=self.time_difference_ms, grace_ms=self.grace_ms)

    @property
    def kind(self) -> str:
        return "sliding"


@dataclass(frozen=True)
class SessionWindows:
    """Sessions of activity separated by more than ``inactivity_gap_ms`` without records."""

    inactivity_gap_ms: int
    grace_ms: int = 0

    def __post_init__(self) -> None:
        _check("SessionWindows", inactivity_gap_ms=self.inactivity_gap_ms, grace_ms=self.grace_ms)

    @property
    def kind(self) -> str:
        return "session"


@dataclass(frozen=True)
class JoinWindows:
    """A stream-stream join's window: records of the two sides join when their timestamps
    are at most ``time_difference_ms`` apart (``[ts - difference, ts + difference]``, both
    ends inclusive; 0 joins equal timestamps only). A record's window closes once stream
    time passes ``ts + time_difference_ms + grace_ms``."""

    time_difference_ms: int
    grace_ms: int = 0

    def __post_init__(self) -> None:
        for name, value in (
            ("time_difference_ms", self.time_difference_ms),
            ("grace_ms", self.grace_ms),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TopologyError(
                    f"JoinWindows: {name} must be an int of milliseconds >= 0, not {value!r}"
                )

    @property
    def kind(self) -> str:
        return "join"

    def close_time(self, timestamp: int) -> int:
        """The last stream time at which a record at ``timestamp`` can still join."""
        return timestamp + self.time_difference_ms + self.grace_ms


FixedWindows = TumblingWindows | HoppingWindows
"""The specs whose windows have fixed bounds known from a record's timestamp alone."""
AnyWindows = TumblingWindows | HoppingWindows | SlidingWindows | SessionWindows
