"""Restoration progress: a redrawn bar on a terminal, INFO lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from streamlet.runtime.progress import RestoreProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_update_on_a_terminal_redraws_one_line_with_rate_and_eta() -> None:
    out, clock = _Terminal(), _Clock()
    progress = RestoreProgress(out, clock)
    clock.now += 1.0
    progress.update(50_000, 150_000, 2)
    clock.now += 0.05  # within the redraw interval: not drawn again
    progress.update(60_000, 140_000, 2)
    progress.done()
    text = out.getvalue()
    assert text.count("\r") == 1 and text.endswith("\n")
    assert "[#######" in text and " 25%" in text
    assert "50,000 records" in text and "50,000/s" in text and "ETA 3 s" in text


def test_update_elsewhere_logs_every_five_seconds(caplog: pytest.LogCaptureFixture) -> None:
    out, clock = io.StringIO(), _Clock()
    progress = RestoreProgress(out, clock)
    with caplog.at_level(logging.INFO, logger="streamlet.runtime.restore"):
        clock.now += 1.0
        progress.update(10_000, 90_000, 1)  # too soon for a log line
        clock.now += 5.0
        progress.update(60_000, 40_000, 1)
        progress.done()
    assert out.getvalue() == ""  # nothing drawn on a non-terminal
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "restored 60000 records (10000/s), 1 partitions and up to 40000 records to go (ETA 4 s)"
    ]
