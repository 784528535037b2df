"""Late records: counted on the task and logged once per window, never dropped silently.

The task's counts reach Prometheus as ``streamlet_dropped_records_total{reason="late"}``
(``task.dropped``, which the worker's metrics take about once a second)."""

from __future__ import annotations

import logging
from typing import Any

from streamlet.runtime.userfn import TaskServices

log = logging.getLogger("streamlet.windows")

_REMEMBERED = 10_000  # windows already logged; forgotten in bulk past this many


LATE = "late"  # the metric's reason


class LateRecords:
    """Counts every dropped (record, window) on ``task.late_dropped`` and in ``task.dropped``;
    logs each window once."""

    def __init__(self, task: TaskServices, node: str) -> None:
        self._task = task
        self._node = node
        self._logged: set[tuple[bytes, int]] = set()

    def drop(self, key_bytes: bytes, start: int, end: int, record: Any, stream_time: int) -> None:
        task = self._task
        task.late_dropped += 1
        task.dropped[LATE] = task.dropped.get(LATE, 0) + 1
        window = (key_bytes, start)
        if window in self._logged:
            return
        if len(self._logged) >= _REMEMBERED:
            self._logged.clear()
        self._logged.add(window)
        log.warning(
            "%s: dropped a late record (topic %s, partition %s, offset %s, timestamp %d) for "
            "the closed window %d..%d of key %r: stream time is %d; further late records "
            "of this window are counted, not logged",
            self._node,
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            start,
            end,
            record.key,
            stream_time,
        )
