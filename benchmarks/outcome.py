"""The figures of one engine x workload x guarantee run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    engine: str
    workload: str
    guarantee: str
    failure: str | None = None  # set when the throughput run failed: no figures then
    records_per_s: float | None = None
    seconds: float | None = None  # first input consumed -> last output visible
    p50_ms: float | None = None
    p99_ms: float | None = None
    latency_samples: int = 0
    startup_s: float | None = None  # launch -> first output visible, fresh app, empty state
    restore_s: float | None = None  # launch -> probe output visible, fresh worker, W2's store
    peak_rss_mb: float | None = None
    outputs: int | None = None  # output records visible by the end of the throughput phase
    final_counts: dict[str, int] | None = None  # W5: the last count seen per region
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None
