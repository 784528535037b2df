"""Making hanging transactions visible.

A read_committed consumer cannot read past a partition's last stable offset (LSO), and the
LSO cannot pass the first record of a transaction still open. A transaction the broker has
lost track of (its coordinator aborted it while the partition's leader was down, say) leaves
the LSO stuck below the high watermark for good: the consumer just stops receiving records,
with no error. So, every ``interval_s``, the worker asks for the LSO and the high watermark of
the partitions it reads (asynchronously: the loop never waits for the answer) and warns, once
per stall, about a partition whose LSO stayed at the same offset below the high watermark for
longer than the transaction timeout, which no healthy transaction outlives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from confluent_kafka import IsolationLevel, TopicPartition
from confluent_kafka.admin import OffsetSpec

from streamlet.config import AppConfig

log = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
_DEFAULT_TXN_TIMEOUT_MS = 10_000  # as streamlet.kafka.clients.producer_config


@dataclass
class Stall:
    """A partition whose LSO sits below its high watermark: since when, and where."""

    stable: int
    high: int
    since: float
    warned: bool = False


class StallWatch:
    """``tick(partitions)`` from the poll loop; ``stalled`` names the partitions warned about
    (the worker's gauge of hanging transactions)."""

    def __init__(self, admin: Any, threshold_s: float, interval_s: float = 10.0) -> None:
        self._admin = admin
        self._threshold_s = threshold_s
        self._interval_s = min(interval_s, max(threshold_s / 2, 0.5))
        self._next = time.monotonic() + self._interval_s
        self._pending: tuple[dict[Any, Future[Any]], dict[Any, Future[Any]]] | None = None
        self._open: dict[tuple[str, int], Stall] = {}

    @property
    def stalled(self) -> list[tuple[str, int]]:
        return sorted(tp for tp, s in self._open.items() if s.warned)

    def tick(self, partitions: Iterable[tuple[str, int]]) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval_s
        if self._pending is not None:
            stable, high = self._pending
            if not all(f.done() for f in (*stable.values(), *high.values())):
                return  # the broker is slow; ask again once this answer is in
            self._pending = None
            self._evaluate(stable, high, now)
        wanted = sorted(set(partitions))
        self._open = {tp: s for tp, s in self._open.items() if tp in wanted}
        if wanted:
            self._pending = (self._ask(wanted, committed=True), self._ask(wanted, committed=False))

    def _ask(self, partitions: list[tuple[str, int]], *, committed: bool) -> dict[Any, Future[Any]]:
        level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(t, p): latest for t, p in partitions}
        try:
            futures: dict[Any, Future[Any]] = self._admin.list_offsets(
                request, isolation_level=level, request_timeout=_TIMEOUT_S
            )
        except Exception as exc:  # a broker fault: the next interval asks again
            log.debug("asking end offsets for the stall check failed: %s", exc)
            return {}
        return futures

    def _evaluate(
        self, stable: dict[Any, Future[Any]], high: dict[Any, Future[Any]], now: float
    ) -> None:
        highs = {(tp.topic, tp.partition): _offset(f) for tp, f in high.items()}
        for tp, future in stable.items():
            key = (tp.topic, tp.partition)
            lso, hwm = _offset(future), highs.get(key)
            if lso is None or hwm is None:
                continue  # that partition's answer failed; judge it next time
            seen = self._open.get(key)
            if lso >= hwm:
                if seen is not None and seen.warned:
                    log.warning(
                        "%s[%d]: the last stable offset moved on after %.0f s",
                        key[0],
                        key[1],
                        now - seen.since,
                    )
                self._open.pop(key, None)
            elif seen is None or seen.stable != lso:
                self._open[key] = Stall(lso, hwm, now)
            elif not seen.warned and now - seen.since > self._threshold_s:
                seen.warned = True
                log.warning(
                    "%s[%d]: last stable offset %d has stayed below the high watermark %d for "
                    "%.0f s, longer than transaction.timeout.ms: a transaction left open at "
                    "offset %d blocks every read_committed consumer of this partition (find "
                    "its producer with kafka-transactions.sh find-hanging; abort it there)",
                    key[0],
                    key[1],
                    lso,
                    hwm,
                    now - seen.since,
                    lso,
                )


def _offset(future: Future[Any]) -> int | None:
    try:
        return int(future.result().offset)
    except Exception:
        return None


def stall_threshold_s(cfg: AppConfig) -> float:
    """The app's transaction timeout: no transaction of a healthy producer outlives it."""
    return int(cfg.client_config.get("transaction.timeout.ms", _DEFAULT_TXN_TIMEOUT_MS)) / 1000.0
