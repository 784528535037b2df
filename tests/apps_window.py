"""Windowed apps run as real worker subprocesses by the window chaos test.

Configured by environment like ``apps.py`` (APP_ID, IN, OUT, BOOTSTRAP, COMMIT_MS, STATE_DIR,
CONFIG) plus SIZE_MS and GRACE_MS. Run with ``streamlet run apps_window:<factory>``.
"""

from __future__ import annotations

import os

import streamlet as sl
from streamlet import serde

from apps import _app
from support import WorkerProcess


class WindowWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_window:<factory>``."""

    module = "apps_window"


def tumbling_count() -> sl.App:
    """A tumbling count per key emitted on window close: IN (String keys, JSON values, event
    time = record time) -> OUT keyed by ``serde.Windowed(String)``, Int64 counts."""
    app = _app()
    windows = sl.TumblingWindows(int(os.environ["SIZE_MS"]), grace_ms=int(os.environ["GRACE_MS"]))
    (
        app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.Json())
        .group_by_key()
        .windowed_by(windows, emit=sl.Emit.ON_WINDOW_CLOSE)
        .count("per-window")
        .to_stream()
        .to(os.environ["OUT"], key_serde=serde.Windowed(serde.String()), value_serde=serde.Int64())
    )
    return app
