"""Failures are loud and precise, and commit nothing past the record that caused them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import streamlet as sl
from streamlet import serde
from streamlet.kafka.admin import Admin

from apps import value_json
from support import WorkerProcess, by_partition, produce, read_all, worker_env

pytestmark = pytest.mark.integration


def _env(
    bootstrap: str, app_id: str, src: str, out: str, state: Path, **extra: str
) -> dict[str, str]:
    return worker_env(bootstrap, app_id, src, out, state, commit_ms=50, **extra)


def test_exception_in_user_code_names_function_and_record_and_commits_nothing_past_it(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out, app_id = make_topics("in"), make_topics("out"), unique("fail")
    produce(bootstrap, src, [(b"k", value_json(i)) for i in range(300)])
    worker = WorkerProcess(
        "failing",
        _env(bootstrap, app_id, src, out, tmp_path, FAIL_ON="150"),
        tmp_path / "worker.log",
    )
    assert worker.wait(60) != 0
    log = worker.output()
    assert "ProcessingError" in log
    assert re.search(
        r"processor 'MAP_VALUES-\d+' failed in apps\.failing\.<locals>\.explode "
        r"\(.*apps\.py:\d+\): ValueError: cannot handle seq 150",
        log,
    ), log
    assert f"topic={src} partition=0 offset=150" in log
    committed = Admin(bootstrap).committed_offsets(app_id, src).get(0, 0)
    assert committed <= 150
    outputs = [json.loads(m.value or b"")["seq"] for m in read_all(bootstrap, out, idle=1.0)]
    assert outputs == list(range(committed)), "output beyond the committed input"


def test_missing_source_topic_is_named(
    bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    app = sl.App(unique("missing"), bootstrap_servers=bootstrap, state_dir=tmp_path)
    missing = unique("no-such-topic")
    app.stream(missing, key_serde=serde.String(), value_serde=serde.String()).to("anything")
    with pytest.raises(sl.TopicError, match=re.escape(repr(missing))):
        app.run()


def test_cli_run_supervises_workers_and_stops_on_sigterm(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=2), make_topics("out", partitions=2)
    parent = WorkerProcess(
        "echo",
        _env(bootstrap, unique("multi"), src, out, tmp_path),
        tmp_path / "parent.log",
        "--workers",
        "2",
    )
    deadline = time.monotonic() + 60
    while (
        len(
            set(
                re.findall(
                    r"\[(\d+)\] streamlet.runtime.worker: assigned t-in-\S+\[\d\]$",
                    parent.output(),
                    re.M,
                )
            )
        )
        < 2
    ):  # both joined: one partition each
        assert time.monotonic() < deadline, parent.output()
        time.sleep(0.2)
    produce(bootstrap, src, [(f"k{i}".encode(), value_json(i)) for i in range(400)])
    outputs = read_all(bootstrap, out, expect=400, timeout=90)
    assert parent.terminate() == 0, parent.output()
    pids = {json.loads(m.value or b"")["by"] for m in outputs}
    assert len(outputs) == 400 and len(pids) == 2, "two worker processes shared the work"
    inputs = by_partition(read_all(bootstrap, src, expect=400))
    got = by_partition(outputs)
    for p, ms in inputs.items():
        assert [m.value for m in ms] == [
            json.dumps({"seq": json.loads(m.value or b"")["seq"]}).encode() for m in got[p]
        ]


def test_cli_run_exits_non_zero_when_a_worker_fails(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out = make_topics("in", partitions=2), make_topics("out", partitions=2)
    produce(bootstrap, src, [(f"k{i}".encode(), value_json(i)) for i in range(50)])
    parent = WorkerProcess(
        "failing",
        _env(bootstrap, unique("multifail"), src, out, tmp_path, FAIL_ON="7"),
        tmp_path / "parent.log",
        "--workers",
        "2",
    )
    assert parent.wait(90) != 0, parent.output()
    assert "ProcessingError" in parent.output()
