"""``streamlet lag`` and ``streamlet reset`` against the real broker, on the README's word
count run as a real worker; and Kafka's own Java console consumer reading its output."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamlet.cli import main
from streamlet.kafka.admin import Admin
from streamlet.ops.lag import consumer_lag
from streamlet.ops.reset import live_members

from apps_ops import OpsWorker, wordcount
from support import ROOT, produce, read_all

pytestmark = pytest.mark.integration

LINES = ["hello world", "hello kafka streams", "hello again world"]
COUNTS = {"hello": 3, "world": 2, "kafka": 1, "streams": 1, "again": 1}
WORDS = sum(COUNTS.values())


def _final_counts(msgs: list) -> dict[str, int]:  # type: ignore[type-arg]
    out: dict[str, int] = {}
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        out[m.key.decode()] = int.from_bytes(m.value, "big", signed=True)
    return out


def _run_until(worker: OpsWorker, bootstrap: str, group: str, out: str, expect: int) -> list:  # type: ignore[type-arg]
    msgs = read_all(bootstrap, out, expect=expect, timeout=90)
    assert len(msgs) >= expect, worker.output()
    # the group has committed everything it read once every partition's lag is 0
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 60
    while any(row.lag for row in consumer_lag(admin, wordcount().topology(), group)):
        assert worker.alive() and time.monotonic() < deadline, worker.output()
        time.sleep(0.2)
    return msgs


def test_reset_to_earliest_reprocesses_with_the_same_results(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, out, app_id = make_topics("lines", 2), make_topics("counts", 2), unique("wc")
    env = {
        "KAFKA_BOOTSTRAP": bootstrap,
        "WORDCOUNT_APP_ID": app_id,
        "WORDCOUNT_INPUT": src,
        "WORDCOUNT_OUTPUT": out,
        "WORDCOUNT_STATE_DIR": str(tmp_path / "state"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    produce(bootstrap, src, [(f"line-{i}".encode(), line.encode()) for i, line in enumerate(LINES)])
    runner = CliRunner()
    worker = OpsWorker("wordcount", env, tmp_path / "run1.log")
    first = _run_until(worker, bootstrap, app_id, out, WORDS)
    assert _final_counts(first) == COUNTS

    refused = runner.invoke(main, ["reset", "apps_ops:wordcount", "--to-earliest", "--execute"])
    assert refused.exit_code == 1
    assert "live member" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert f"({app_id}-0@" in refused.output  # client.id defaults to <app>-<worker>
    assert worker.terminate() == 0
    admin = Admin(bootstrap)
    deadline = time.monotonic() + 30
    while live_members(admin, app_id):  # the coordinator forgets a leaving member at once
        assert time.monotonic() < deadline
        time.sleep(0.2)

    lag = runner.invoke(main, ["lag", "apps_ops:wordcount", "--format", "json"])
    assert lag.exit_code == 0, lag.output
    rows = json.loads(lag.output)["partitions"]
    assert {r["topic"] for r in rows} == {src, f"{app_id}-by-word-repartition"}
    # transaction markers past the committed offsets are not lag
    assert all(r["lag"] == 0 and r["committed"] is not None for r in rows), rows

    internal = [f"{app_id}-by-word-repartition", f"{app_id}-word-counts-changelog"]
    dry = runner.invoke(main, ["reset", "apps_ops:wordcount", "--to-earliest"])
    assert dry.exit_code == 0, dry.output
    ends = admin.end_offsets(src, committed_only=False)
    for p, end in ends.items():
        assert f"would set {src}[{p}] offset {end} -> 0" in dry.output
    for topic in internal:
        assert f"would delete internal topic {topic}" in dry.output
    assert f"would delete local state {tmp_path / 'state' / app_id}" in dry.output
    assert admin.committed_offsets(app_id, src) == ends  # a dry run changes nothing
    assert (tmp_path / "state" / app_id).exists()

    done = runner.invoke(main, ["reset", "apps_ops:wordcount", "--to-earliest", "--execute"])
    assert done.exit_code == 0, done.output
    assert all(info is None for info in admin.describe(internal).values())
    assert not (tmp_path / "state" / app_id).exists()
    assert admin.committed_offsets(app_id, src) == {p: 0 for p in ends}

    worker = OpsWorker("wordcount", env, tmp_path / "run2.log")
    both = _run_until(worker, bootstrap, app_id, out, 2 * WORDS)
    assert worker.terminate() == 0
    assert len(both) == 2 * WORDS
    first_keys = {(m.partition, m.offset) for m in first}
    assert _final_counts([m for m in both if (m.partition, m.offset) not in first_keys]) == COUNTS

    # a Java downstream reads the example's output with Kafka's own deserializers
    java = subprocess.run(
        [
            "java",
            "-cp",
            str(ROOT / ".kafka" / "lib" / "*"),
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            "--bootstrap-server",
            bootstrap,
            "--topic",
            out,
            "--from-beginning",
            "--max-messages",
            str(2 * WORDS),
            "--command-property",
            "isolation.level=read_committed",
            "--timeout-ms",
            "30000",
            "--formatter-property",
            "print.key=true",
            "--key-deserializer",
            "org.apache.kafka.common.serialization.StringDeserializer",
            "--value-deserializer",
            "org.apache.kafka.common.serialization.LongDeserializer",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert java.returncode == 0, java.stderr
    printed = java.stdout.splitlines()
    assert len(printed) == 2 * WORDS, java.stdout + java.stderr
    assert "hello\t3" in printed and "world\t2" in printed, printed
    assert all(not line.startswith('"') for line in printed), printed


def test_reset_plans_datetime_and_latest_targets_from_record_timestamps(
    bootstrap: str, make_topics: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    import streamlet as sl
    from streamlet.ops.reset import parse_datetime, plan_reset

    src = make_topics("stamped", 1)
    produce(bootstrap, src, [(b"k", b"v")] * 3, timestamps=[1000, 2000, 3000])
    app = sl.App(unique("dt"), bootstrap_servers=bootstrap, state_dir=tmp_path)
    app.stream(src).to(src + "-out")
    admin = Admin(bootstrap)

    def targets(to: str, when: str | None = None) -> list[int]:
        stamp = parse_datetime(when) if when else None
        plan = plan_reset(admin, app.topology(), app.config, to=to, timestamp_ms=stamp)
        assert plan.delete_topics == () and plan.state_dir is None
        return [o.target for o in plan.offsets]

    assert targets("datetime", "1970-01-01T00:00:02Z") == [1]
    assert targets("datetime", "1970-01-01T00:00:02.001Z") == [2]
    assert targets("datetime", "2000-01-01T00:00:00Z") == [3]  # after every record: the end
    assert targets("latest") == [3]
    assert targets("earliest") == [0]
