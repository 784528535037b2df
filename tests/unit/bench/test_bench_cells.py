"""A benchmark cell's row from its repeats (benchmarks/suite.py, report.py)."""

from __future__ import annotations

from benchmarks import report
from benchmarks.outcome import Outcome
from benchmarks.phases import StateSize, Throughput
from benchmarks.suite import _summarise


def _run(rate: float, rss: float, outputs: int, sst: int) -> Throughput:
    state = StateSize(sst_bytes=sst, dir_bytes=sst * 2, keys=10_000)
    return Throughput(rate, 1e6 / rate, rss, rss / 2, 3, outputs, [], None, state)


def test_summarise_repeats_reports_median_min_max_and_median_run() -> None:
    outcome = Outcome("streamlet-1", "w2", "exactly_once")
    runs = [_run(300.0, 90.0, 3, 30), _run(100.0, 120.0, 1, 10), _run(200.0, 80.0, 2, 20)]
    _summarise(outcome, runs, ["repeat 4 failed: boom"])
    assert outcome.ok
    assert (outcome.records_per_s, outcome.records_per_s_min, outcome.records_per_s_max) == (
        200.0,
        100.0,
        300.0,
    )
    assert outcome.records_per_s_runs == [300.0, 100.0, 200.0]
    assert outcome.outputs == 2  # the median run's
    assert outcome.rocksdb_sst_bytes == 20
    assert outcome.rocksdb_bytes_per_million_keys == 2_000
    assert outcome.peak_rss_mb == 120.0  # the max over the repeats
    assert outcome.peak_rss_worker_mb == 60.0
    assert outcome.notes == ["repeat 4 failed: boom"]
    assert "200 (100-300)" in report.row_line(outcome)


def test_summarise_every_repeat_failed_fails_the_cell() -> None:
    outcome = Outcome("kafka-streams", "w3", "at_least_once")
    _summarise(outcome, [], ["repeat 1 failed: a", "repeat 2 failed: b"])
    assert not outcome.ok
    assert outcome.failure == "repeat 2 failed: b"
    assert "failed: repeat 2 failed: b" in report.row_line(outcome)
