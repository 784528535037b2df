"""Apps run as real worker subprocesses by the integration and chaos tests.

Configured by environment: APP_ID, IN, OUT, BOOTSTRAP, GUARANTEE, COMMIT_MS, STATE_DIR,
and CONFIG (``k=v,k=v`` raw librdkafka settings).
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import time
from typing import Any

import streamlet as sl
from streamlet import serde

# `kill -USR1 <worker>` prints every thread's stack to the worker's log: how a test shows
# where a hung worker is stuck
faulthandler.register(signal.SIGUSR1, all_threads=True)


def _app() -> sl.App:
    config: dict[str, Any] = {}
    for pair in filter(None, os.environ.get("CONFIG", "").split(",")):
        key, _, value = pair.partition("=")
        config[key] = value
    return sl.App(
        os.environ["APP_ID"],
        bootstrap_servers=os.environ["BOOTSTRAP"],
        processing_guarantee=os.environ.get("GUARANTEE", "exactly_once_v2"),
        commit_interval_ms=int(os.environ.get("COMMIT_MS", "100")),
        state_dir=os.environ["STATE_DIR"],
        config=config,
        static_membership=os.environ.get("STATIC") == "1",
        # the tests that count every update need each one forwarded: 0 unless a test says
        cache_max_bytes=int(os.environ.get("CACHE_BYTES", "0")),
    )


def echo() -> sl.App:
    """map -> to: each value ``{"seq": n}`` comes out as ``{"seq": n, "echo": true}``.

    STALL_ON=<seq> makes this process sleep STALL_S seconds on that record (a zombie); with
    STALL_ONCE=1 only the first time it processes it."""
    app = _app()
    stall_on = os.environ.get("STALL_ON")
    stall_s = float(os.environ.get("STALL_S", "0"))
    stalled: list[bool] = []

    def mark(value: dict[str, Any]) -> dict[str, Any]:
        once = os.environ.get("STALL_ONCE") == "1"
        if stall_on is not None and str(value["seq"]) == stall_on and not (stalled and once):
            stalled.append(True)
            time.sleep(stall_s)
        return {**value, "echo": True, "by": os.getpid()}

    (
        app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.Json())
        .map_values(mark)
        .to(os.environ["OUT"])
    )
    return app


def failing() -> sl.App:
    """Raises on the value ``{"seq": FAIL_ON}``."""
    app = _app()
    fail_on = int(os.environ["FAIL_ON"])

    def explode(value: dict[str, Any]) -> dict[str, Any]:
        if value["seq"] == fail_on:
            raise ValueError(f"cannot handle seq {fail_on}")
        return value

    (
        app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.Json())
        .map_values(explode)
        .to(os.environ["OUT"])
    )
    return app


def value_json(seq: int, **extra: Any) -> bytes:
    return json.dumps({"seq": seq, **extra}).encode()


def stateful() -> sl.App:
    """Kafka Streams' EOS check: echo; running sum and running min per key; a count per
    bucket through a repartition topic (two hops). Inputs are ``{"value": int}``."""
    app = _app()
    s = app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.Json())
    i64 = serde.Int64()
    s.to(os.environ["OUT"] + "-echo")
    values = s.map_values(lambda v: v["value"])
    (
        values.group_by_key(value_serde=i64)
        .aggregate(lambda: 0, lambda _k, v, agg: agg + v, name="sums", value_serde=i64)
        .to_stream()
        .to(os.environ["OUT"] + "-sums", value_serde=i64)
    )
    (
        values.group_by_key(value_serde=i64)
        .reduce(min, name="mins")
        .to_stream()
        .to(os.environ["OUT"] + "-mins", value_serde=i64)
    )
    (
        values.group_by(
            lambda _k, v: f"b{v % 17}", name="by-bucket", key_serde=serde.String(), value_serde=i64
        )
        .count(name="bucket-counts")
        .to_stream()
        .to(os.environ["OUT"] + "-counts", value_serde=i64)
    )
    return app
