"""Stateful apps run as real worker subprocesses by the task-movement and restoration tests.

Configured by environment like ``apps.py``: APP_ID, IN, OUT, BOOTSTRAP, GUARANTEE,
COMMIT_MS, STATE_DIR, CONFIG (``k=v,k=v`` raw librdkafka settings), and STORE for ``table``.
Run with ``streamlet run apps_state:<factory>`` from the tests directory.
"""

from __future__ import annotations

import os

import streamlet as sl
from streamlet import serde

from apps import _app
from support import WorkerProcess


class StateWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_state:<factory>``."""

    module = "apps_state"


def count_sum() -> sl.App:
    """A running count and a running sum per key (``group_by_key``: no repartition, one
    sub-topology, one task per input partition with two stores, ``counts`` and ``sums``).
    Inputs are ``{"value": int}``; outputs are Int64 to OUT-counts and OUT-sums."""
    app = _app()
    i64 = serde.Int64()
    values = app.stream(
        os.environ["IN"], key_serde=serde.String(), value_serde=serde.Json()
    ).map_values(lambda v: v["value"])
    (
        values.group_by_key(value_serde=i64)
        .count(name="counts")
        .to_stream()
        .to(os.environ["OUT"] + "-counts", value_serde=i64)
    )
    (
        values.group_by_key(value_serde=i64)
        .aggregate(lambda: 0, lambda _k, v, agg: agg + v, name="sums", value_serde=i64)
        .to_stream()
        .to(os.environ["OUT"] + "-sums", value_serde=i64)
    )
    return app


def table() -> sl.App:
    """IN materialized as a table (latest value per key) in the store STORE, raw bytes."""
    app = _app()
    app.table(
        os.environ["IN"],
        name=os.environ.get("STORE", "table"),
        key_serde=serde.Bytes(),
        value_serde=serde.Bytes(),
    )
    return app
