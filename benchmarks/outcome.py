"""The figures of one engine x workload x guarantee cell (the median of its repeats)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    engine: str
    workload: str
    guarantee: str
    failure: str | None = None  # set when every throughput repeat failed: no figures then
    # the median repeat's records/s (of the runs that succeeded), then every run's, min, max
    records_per_s: float | None = None
    records_per_s_min: float | None = None
    records_per_s_max: float | None = None
    records_per_s_runs: list[float] = field(default_factory=list)
    seconds: float | None = None  # the median run's first input consumed -> last output visible
    p50_ms: float | None = None
    p99_ms: float | None = None
    latency_samples: int = 0
    startup_s: float | None = None  # launch -> first output visible, fresh app, empty state
    # W2's restore phase (phases.restore): launch -> probe output, fresh instance, and what the
    # engine itself reports of restoring the pre-filled changelog
    restore_s: float | None = None
    restore_records: int | None = None
    restore_seconds: float | None = None
    restore_records_per_s: float | None = None
    peak_rss_mb: float | None = None  # max over the repeats of the session's summed RSS
    peak_rss_worker_mb: float | None = None  # max over repeats and processes of one process
    processes: int | None = None  # processes seen in the engine's session
    outputs: int | None = None  # output records visible by the end of the median run
    # the median run's state dir once the engine stopped: RocksDB's *.sst bytes, every byte,
    # and the .sst bytes scaled to a million stored keys
    rocksdb_sst_bytes: int | None = None
    rocksdb_dir_bytes: int | None = None
    rocksdb_bytes_per_million_keys: float | None = None
    final_counts: dict[str, int] | None = None  # W5: the last count seen per region
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None
