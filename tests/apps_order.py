"""A worker app whose task reads two input partitions (event-time order, max_task_idle_ms):
``IN`` merged with ``IN2``, echoed to ``OUT`` with the topic each record came from.

Configured by environment like ``apps.py`` (APP_ID, IN, IN2, OUT, BOOTSTRAP, GUARANTEE,
COMMIT_MS, STATE_DIR, CONFIG) plus IDLE_MS (``max_task_idle_ms``). Run with
``streamlet run apps_order:<factory>`` from the tests directory."""

from __future__ import annotations

import dataclasses
import os

import streamlet as sl
from streamlet import serde

from apps import _app
from support import WorkerProcess


class OrderWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_order:<factory>``."""

    module = "apps_order"


def merged_echo() -> sl.App:
    """``{"seq": n}`` from IN or IN2 comes out as ``{"seq": n, "src": <topic>}``."""
    app = _app()
    idle_ms = int(os.environ.get("IDLE_MS", "0"))
    app.config = dataclasses.replace(app.config, max_task_idle_ms=idle_ms)

    def tag(record: sl.Record, ctx: sl.ProcessorContext) -> None:
        ctx.forward(record.with_value({**record.value, "src": record.topic}))

    keys, values = serde.String(), serde.Json()
    left = app.stream(os.environ["IN"], key_serde=keys, value_serde=values)
    right = app.stream(os.environ["IN2"], key_serde=keys, value_serde=values)
    merged = left.merge(right).process(tag, name="tag")
    merged.to(os.environ["OUT"], key_serde=keys, value_serde=values)  # keys keep partitions
    return app
