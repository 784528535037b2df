"""Restoration progress: a bar on a terminal, periodic log lines otherwise.

Restoring a large store is the one long wait an operator sees at start-up, so it always says
how far it is: records restored, the rate, what is left and an estimate of the time to go. On
a TTY (stderr) one line is redrawn in place at most five times a second; elsewhere (a log
file, a container's output) an INFO line is written every five seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("streamlet.runtime.restore")

_BAR_WIDTH = 30
_REDRAW_S = 0.2
_LOG_S = 5.0


class RestoreProgress:
    """Reports ``update(restored, left)`` calls; ``done()`` ends the bar's line."""

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._clock = clock
        self._started = clock()
        self._last = self._started
        self._drawn = False

    def update(self, restored: int, left: int, partitions: int) -> None:
        now = self._clock()
        if now - self._last < (_REDRAW_S if self._tty else _LOG_S):
            return
        self._last = now
        rate = restored / max(now - self._started, 1e-9)
        eta = max(left, 0) / max(rate, 1e-9)
        if self._tty:
            self._draw(restored, left, rate, eta)
        else:
            log.info(
                "restored %d records (%.0f/s), %d partitions and up to %d records to go "
                "(ETA %.0f s)",
                restored,
                rate,
                partitions,
                max(left, 0),
                eta,
            )

    def _draw(self, restored: int, left: int, rate: float, eta: float) -> None:
        share = min(1.0, restored / max(restored + max(left, 0), 1))
        filled = int(share * _BAR_WIDTH)
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        self._stream.write(
            f"\rrestoring [{bar}] {share:4.0%} {restored:,} records, "
            f"{rate:,.0f}/s, ETA {eta:,.0f} s "
        )
        self._stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
