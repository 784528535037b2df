"""Records an operator drops by its semantics (a join's null key or value), not by an error
policy: counted per reason on ``task.dropped`` and logged the first time per operator and
reason, never dropped silently."""

from __future__ import annotations

import logging

from streamlet.record import Record
from streamlet.runtime.userfn import TaskServices

log = logging.getLogger("streamlet.ops")


class DroppedRecords:
    """Counts each dropped record under its reason; logs the first of each reason."""

    def __init__(self, task: TaskServices, node: str) -> None:
        self._task = task
        self._node = node
        self._logged: set[str] = set()

    def drop(self, record: Record, reason: str) -> None:
        counts = self._task.dropped
        counts[reason] = counts.get(reason, 0) + 1
        if reason in self._logged:
            return
        self._logged.add(reason)
        log.warning(
            "%s: dropped a record (topic %s, partition %s, offset %s): %s; further records "
            "dropped for this reason are counted, not logged",
            self._node,
            record.topic,
            record.partition,
            record.offset,
            reason.replace("_", " "),
        )
