"""A transaction left open on a partition the app reads stalls it (read_committed stops at
the last stable offset): the worker must say so, naming the partition, never stall silently."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

pytestmark = pytest.mark.integration


def _wait_for_log(caplog: pytest.LogCaptureFixture, text: str, timeout: float) -> float:
    start = time.monotonic()
    while not any(text in r.getMessage() for r in caplog.records):
        assert time.monotonic() - start < timeout, f"no log line with {text!r} in {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - start


def test_partition_stuck_behind_an_open_transaction_is_warned_about(
    bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tag = uuid.uuid4().hex[:8]
    src, out = f"hang-in-{tag}", f"hang-out-{tag}"
    admin = Admin(bootstrap)
    admin.ensure_topic(src, 2, {})
    admin.ensure_topic(out, 2, {})
    app = sl.App(
        f"hang-{tag}",
        bootstrap_servers=bootstrap,
        state_dir=tmp_path,
        config={"transaction.timeout.ms": 4000},
    )
    app.stream(src, key_serde=serde.String(), value_serde=serde.String()).to(out)
    # a producer whose transaction outlives the app's transaction timeout many times over,
    # as one the coordinator lost would: the partition's LSO stays at its first record
    hanging = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": f"hang-producer-{tag}",
            "transaction.timeout.ms": 120_000,
        }
    )
    hanging.init_transactions(30)
    hanging.begin_transaction()
    hanging.produce(src, b"never committed", b"k", partition=1)
    assert hanging.flush(30) == 0
    caplog.set_level(logging.INFO, logger="streamlet")
    app.start()
    try:
        assert app.wait_until_running(60)
        took = _wait_for_log(caplog, f"{src}[1]: last stable offset 0 has stayed below", 30)
        stalls = [r.getMessage() for r in caplog.records if r.name == "streamlet.runtime.stall"]
        assert not any(f"{src}[0]" in m for m in stalls), stalls
        hanging.abort_transaction(30)
        _wait_for_log(caplog, f"{src}[1]: the last stable offset moved on", 30)
    finally:
        app.stop()
    print(f"\nwarned {took:.1f} s after the worker started (transaction.timeout.ms=4000)")
