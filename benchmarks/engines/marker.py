"""The "first input consumed" marker every engine writes, exactly once per run.

The harness defines throughput from this instant: the wall-clock time (``time.time()``) at
which the engine's user code first saw an input record. Creating the file with ``O_EXCL``
lets several worker processes race for it safely: the first one wins.
"""

from __future__ import annotations

import os
import time


def write_once(path: str, at: float) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as out:
        out.write(repr(at))


def read(path: str) -> float | None:
    try:
        with open(path) as src:
            return float(src.read().strip())
    except (FileNotFoundError, ValueError):
        return None


class FirstInputMarker:
    """Call it on every record; only the first call costs more than a flag test."""

    __slots__ = ("_done", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        self._done = False

    def __call__(self, *_: object) -> None:
        if self._done:
            return
        self._done = True
        write_once(self._path, time.time())
