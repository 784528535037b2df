"""The benchmark harness reads each engine's own restore report (benchmarks/restore_report.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import restore_report

_STREAMLET = """\
2026-12-06 12:53:30,302 INFO [1] streamlet.runtime.restore: restoring 2 store partitions
2026-12-06 12:53:30,400 INFO [1] streamlet.runtime.restore: restored 30000 records (9 distinct-key writes) in 0.20 s (150000 records/s)
2026-12-06 12:53:30,500 INFO [2] streamlet.runtime.restore: restored 10000 records (9 distinct-key writes) in 0.10 s (100000 records/s)
"""
_KAFKA_STREAMS = """\
streams-restore start store=counts partition=0 at_ms=1000 offsets=0..10
streams-restore start store=counts partition=1 at_ms=1100 offsets=0..12
streams-restore end store=counts partition=0 at_ms=1500 records=10
streams-restore end store=counts partition=1 at_ms=2000 records=12
"""


def _logs(tmp_path: Path, stderr: str = "", stdout: str = "") -> Path:
    (tmp_path / "stderr").write_text(stderr)
    (tmp_path / "stdout").write_text(stdout)
    return tmp_path


def test_read_streamlet_workers_sums_records_over_their_span(tmp_path: Path) -> None:
    got = restore_report.read(_logs(tmp_path, stderr=_STREAMLET))
    assert got is not None
    assert got.records == 40_000
    # worker 1 ran 30.200-30.400, worker 2 30.400-30.500: the span, not the sum of both
    assert got.seconds == pytest.approx(0.3, abs=1e-3)


def test_read_ceiling_line_without_log_time_takes_its_seconds(tmp_path: Path) -> None:
    line = "ceiling: restored 100 records (10 distinct-key writes) in 0.50 s (200 records/s)\n"
    got = restore_report.read(_logs(tmp_path, stderr=line))
    assert got == restore_report.Restored(100, 0.5)
    assert got.records_per_s == pytest.approx(200.0)


def test_read_kafka_streams_listener_spans_first_start_to_last_end(tmp_path: Path) -> None:
    got = restore_report.read(_logs(tmp_path, stdout=_KAFKA_STREAMS))
    assert got == restore_report.Restored(22, 1.0)


def test_read_no_report_returns_none(tmp_path: Path) -> None:
    assert restore_report.read(_logs(tmp_path, stderr="started\nstopped\n")) is None
