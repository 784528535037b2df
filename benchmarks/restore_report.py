"""What an engine says of its own restoration, read from its stdout and stderr.

- streamlet (INFO on the worker's stderr, streamlet/runtime/restore.py) and the ceiling (the
  same words): ``restored N records (K distinct-key writes) in S s (R records/s)``, once per
  restoration; several lines (workers, restorations) are summed.
- Kafka Streams (the peer's ``StateRestoreListener``): ``streams-restore start ... at_ms=T``
  and ``streams-restore end ... at_ms=T records=N`` per store partition; the time is from the
  first start to the last end, the records are the ends' sum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_PYTHON = re.compile(r"restored (\d+) records \(\d+ distinct-key writes\) in ([0-9.]+) s")
_JAVA = re.compile(r"streams-restore (start|end) .*?at_ms=(\d+)(?: .*?records=(\d+))?")


@dataclass(frozen=True)
class Restored:
    records: int
    seconds: float

    @property
    def records_per_s(self) -> float:
        return self.records / max(self.seconds, 1e-9)


def read(log_dir: Path) -> Restored | None:
    """The restoration an engine reported in ``log_dir``'s stdout and stderr, if any."""
    text = ""
    for name in ("stderr", "stdout"):
        try:
            text += (log_dir / name).read_text(errors="replace") + "\n"
        except FileNotFoundError:
            continue
    python = _PYTHON.findall(text)
    if python:
        return Restored(sum(int(n) for n, _ in python), sum(float(s) for _, s in python))
    starts: list[int] = []
    ends: list[int] = []
    records = 0
    for kind, at_ms, count in _JAVA.findall(text):
        if kind == "start":
            starts.append(int(at_ms))
        else:
            ends.append(int(at_ms))
            records += int(count or 0)
    if starts and ends:
        return Restored(records, (max(ends) - min(starts)) / 1000.0)
    return None
