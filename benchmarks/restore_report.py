"""What an engine says of its own restoration, read from its stdout and stderr.

- streamlet (INFO on the worker's stderr, streamlet/runtime/restore.py) and the ceiling (the
  same words): ``restored N records (K distinct-key writes) in S s (R records/s)``, once per
  restoration. Several lines (one per worker of streamlet-2, restoring in parallel): the
  records are summed, the time is from the earliest start (a line's log time minus S) to the
  latest end (its log time); lines without a log time (the ceiling's) add up their S.
- Kafka Streams (the peer's ``StateRestoreListener``): ``streams-restore start ... at_ms=T``
  and ``streams-restore end ... at_ms=T records=N`` per store partition; the time is from the
  first start to the last end, the records are the ends' sum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_PYTHON = re.compile(
    r"^(?:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) )?"  # logging's asctime, if any
    r".*?restored (\d+) records \(\d+ distinct-key writes\) in ([0-9.]+) s",
    re.MULTILINE,
)
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
    return _python(_PYTHON.findall(text)) or _java(_JAVA.findall(text))


def _python(lines: list[tuple[str, str, str]]) -> Restored | None:
    if not lines:
        return None
    records = sum(int(n) for _, n, _ in lines)
    if not all(at for at, _, _ in lines):
        return Restored(records, sum(float(s) for _, _, s in lines))
    ends = [datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f").timestamp() for at, _, _ in lines]
    starts = [end - float(s) for end, (_, _, s) in zip(ends, lines, strict=True)]
    return Restored(records, max(ends) - min(starts))


def _java(lines: list[tuple[str, str, str]]) -> Restored | None:
    starts: list[int] = []
    ends: list[int] = []
    records = 0
    for kind, at_ms, count in lines:
        if kind == "start":
            starts.append(int(at_ms))
        else:
            ends.append(int(at_ms))
            records += int(count or 0)
    if starts and ends:
        return Restored(records, (max(ends) - min(starts)) / 1000.0)
    return None
