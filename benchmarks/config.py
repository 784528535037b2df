"""The settings of one benchmark run, and the names it gives its topics and applications."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from benchmarks.engines.spec import GUARANTEES, WORKLOADS
from benchmarks.launchers import KNOWN_ENGINES

DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 50_000
QUICK_ENGINES = ("ceiling", "streamlet-1", "quix", "kafka-streams")
QUICK_GUARANTEES = ("exactly_once",)
_SHORT = {"exactly_once": "eos", "at_least_once": "alos"}


@dataclass(frozen=True)
class RunConfig:
    bootstrap: str
    records: int
    partitions: int
    commit_interval_ms: int
    engines: tuple[str, ...]
    workloads: tuple[str, ...]
    guarantees: tuple[str, ...]
    latency_rate: int  # records/s
    latency_seconds: float
    timeout_s: float  # per throughput run
    quick: bool
    repeats: int = 3  # throughput runs per cell, interleaved across engines; the row: median
    latency_repeats: int = 1  # latency phases per cell (the row: the median p99's run)
    latency: bool = True  # False: no latency phase at all (--no-latency)
    restore: bool = True  # False: no restore phase (--no-restore)
    scaling: bool = False  # W2 exactly-once with streamlet-1/2/4 as a table of its own

    def __post_init__(self) -> None:
        if self.records < 1 or self.partitions < 1 or self.commit_interval_ms < 1:
            raise ValueError("records, partitions and commit interval must be positive")
        if self.repeats < 1 or self.latency_repeats < 1:
            raise ValueError("repeats and latency repeats must be positive")
        for name, values, known in (
            ("engine", self.engines, KNOWN_ENGINES),
            ("workload", self.workloads, WORKLOADS),
            ("guarantee", self.guarantees, GUARANTEES),
        ):
            unknown = [v for v in values if v not in known]
            if unknown or not (values or (name == "workload" and self.scaling)):
                raise ValueError(f"{name}s must be among {', '.join(known)}; got {values}")


def new_run_id() -> str:
    """``bench-<UTC time>-<random>``: every topic, app id and group of the run contains it."""
    return f"bench-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def app_id(run_id: str, engine: str, workload: str, guarantee: str, phase: str = "") -> str:
    base = f"{run_id}-{engine}-{workload}-{_SHORT[guarantee]}"
    return f"{base}-{phase}" if phase else base
