"""Telling a transaction coordinator's timeout abort from a live twin.

Both surface as ``PRODUCER_FENCED``. A twin (another process using this worker's
transactional id) fences a transaction of any age. The coordinator only aborts one that has
outlived ``transaction.timeout.ms``, which a healthy worker's transactions never do, but one
does while a broker it writes to is down: such a fence is no twin, and the worker re-creates
its producer (a new epoch), closes its tasks dirty and resumes from the committed offsets.

A fence of a transaction younger than the timeout, or too many fences in a row, proves a live
twin: the worker stops with ``ProducerFencedError``. A twin on this machine cannot exist (the
identity is file-locked per state dir); one elsewhere fences the re-created producer's first
transactions at once, and so is caught by the age rule.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class FenceJudge:
    def __init__(self, txn_timeout_s: float, limit: int = 3, window_s: float = 600.0) -> None:
        self._timeout_s = txn_timeout_s
        self._limit = limit
        self._window_s = window_s
        self._fences: list[float] = []

    def timed_out(self, transaction_age_s: float | None) -> bool:
        """True when a fence of a transaction this old may be the coordinator's timeout abort
        (resume with a new producer); False when it proves a twin (stop)."""
        now = time.monotonic()
        if transaction_age_s is None or transaction_age_s < self._timeout_s:
            return False
        self._fences = [t for t in self._fences if now - t < self._window_s] + [now]
        if len(self._fences) > self._limit:
            log.error(
                "fenced %d times in %.0f s: another worker uses this transactional id",
                len(self._fences),
                self._window_s,
            )
            return False
        log.warning(
            "fenced after the transaction outlived transaction.timeout.ms (%.1f s > %.1f s): "
            "the coordinator aborted it; re-creating the producer and resuming",
            transaction_age_s,
            self._timeout_s,
        )
        return True
