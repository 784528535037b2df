"""The ``streamlet`` command through click's CliRunner; nothing here reaches a broker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner, Result

import streamlet.cli
import streamlet.runtime.worker
from streamlet.cli import main
from streamlet.config import AppConfig
from streamlet.runtime.exitcodes import EXIT_CONFIG
from streamlet.topology.topology import Topology

MakeModule = Callable[[str], str]

_APP = """
import streamlet as sl

app = sl.App("cli-shop", bootstrap_servers="app-broker:9092", config={"linger.ms": 5})
app.stream("orders").filter(lambda _k, v: v is not None, name="drop-nulls").to("valid-orders")
app.stream("payments").group_by_key().count("payment-counts")
topology = app.topology()
"""


class _FakeWorker:
    """Stands in for the runtime's Worker: records what the CLI would run."""

    runs: ClassVar[list[_FakeWorker]] = []

    def __init__(self, topology: Topology, cfg: AppConfig, index: int = 0) -> None:
        self.topology, self.cfg, self.index = topology, cfg, index

    def run(self) -> None:
        _FakeWorker.runs.append(self)


@pytest.fixture
def fake_worker(monkeypatch: pytest.MonkeyPatch) -> type[_FakeWorker]:
    _FakeWorker.runs = []
    monkeypatch.setattr(streamlet.runtime.worker, "Worker", _FakeWorker)
    return _FakeWorker


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


# -- describe ------------------------------------------------------------------------------
def test_describe_prints_topology(make_module: MakeModule) -> None:
    module = make_module(_APP)

    result = _invoke("describe", f"{module}:app")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Topology: cli-shop"
    assert "    Processor: drop-nulls (filter)" in lines
    assert "    payment-counts (changelog: cli-shop-payment-counts-changelog)" in lines
    assert result.stderr == ""


def test_describe_prints_located_topology(make_module: MakeModule) -> None:
    module = make_module(_APP)

    result = _invoke("describe", f"{module}:topology")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Topology: cli-shop\n  Sub-topology: 0\n")


def test_describe_exits_one_with_locate_error_when_module_missing(
    make_module: MakeModule,
) -> None:
    make_module(_APP)

    result = _invoke("describe", "cli_no_such_module:app")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "streamlet: LocateError: no module named 'cli_no_such_module' "
        "(looked in the current directory and sys.path)\n"
    )


def test_describe_exits_one_with_locate_error_when_attribute_missing(
    make_module: MakeModule,
) -> None:
    module = make_module(_APP)

    result = _invoke("describe", f"{module}:application")

    assert result.exit_code == 1
    assert result.stderr == (
        f"streamlet: LocateError: module '{module}' has no attribute 'application'\n"
    )


def test_describe_exits_one_with_locate_error_when_target_malformed() -> None:
    result = _invoke("describe", "wordcount")

    assert result.exit_code == 1
    assert result.stderr.startswith("streamlet: LocateError: target 'wordcount' must look like")


def test_describe_exits_one_with_topology_error_when_app_has_no_source(
    make_module: MakeModule,
) -> None:
    module = make_module("import streamlet as sl\napp = sl.App('empty')\n")

    result = _invoke("describe", f"{module}:app")

    assert result.exit_code == 1
    assert result.stderr.startswith("streamlet: TopologyError: the topology has no source")


# -- run -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pair", ["foo", "=value"])
def test_run_fails_with_usage_error_when_config_malformed(
    pair: str, monkeypatch: pytest.MonkeyPatch, fake_worker: type[_FakeWorker]
) -> None:
    located: list[str] = []
    monkeypatch.setattr(streamlet.cli, "_resolve", located.append)

    result = _invoke("run", "wordcount:app", "--config", pair)

    assert result.exit_code == 2
    assert f"{pair!r} is not KEY=VALUE" in result.stderr
    assert "--config" in result.stderr
    assert located == []
    assert fake_worker.runs == []


def test_run_fails_with_usage_error_when_workers_below_one(
    fake_worker: type[_FakeWorker],
) -> None:
    result = _invoke("run", "wordcount:app", "--workers", "0")

    assert result.exit_code == 2
    assert "--workers" in result.stderr
    assert fake_worker.runs == []


def test_run_exits_config_status_with_locate_error_when_target_missing(
    make_module: MakeModule, fake_worker: type[_FakeWorker]
) -> None:
    make_module(_APP)

    result = _invoke("run", "cli_no_such_module:app")

    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.startswith("streamlet: LocateError: no module named 'cli_no_such_module'")
    assert fake_worker.runs == []


def test_run_passes_app_config_with_overrides_to_worker(
    make_module: MakeModule, fake_worker: type[_FakeWorker]
) -> None:
    module = make_module(_APP)

    result = _invoke(
        "run",
        f"{module}:app",
        "--bootstrap-servers",
        "cli-broker:9092",
        "--commit-interval-ms",
        "250",
        "--config",
        "client.id=from-cli",
        "-c",
        "linger.ms=20",
    )

    assert result.exit_code == 0, result.output
    (worker,) = fake_worker.runs
    assert worker.cfg.application_id == "cli-shop"
    assert worker.cfg.bootstrap_servers == "cli-broker:9092"
    assert worker.cfg.commit_interval_ms == 250
    assert dict(worker.cfg.client_config) == {"linger.ms": "20", "client.id": "from-cli"}
    assert worker.index == 0
    assert worker.topology.application_id == "cli-shop"


def test_run_keeps_app_config_when_no_options(
    make_module: MakeModule, fake_worker: type[_FakeWorker]
) -> None:
    module = make_module(_APP)

    result = _invoke("run", f"{module}:app")

    assert result.exit_code == 0, result.output
    (worker,) = fake_worker.runs
    assert worker.cfg.bootstrap_servers == "app-broker:9092"
    assert dict(worker.cfg.client_config) == {"linger.ms": 5}


def test_run_uses_application_id_option_for_topology(
    make_module: MakeModule, fake_worker: type[_FakeWorker]
) -> None:
    module = make_module(_APP)

    result = _invoke(
        "run",
        f"{module}:topology",
        "--application-id",
        "renamed",
        "--processing-guarantee",
        "at_least_once",
    )

    assert result.exit_code == 0, result.output
    (worker,) = fake_worker.runs
    assert worker.cfg.application_id == "renamed"
    assert not worker.cfg.exactly_once
    assert worker.cfg.commit_interval_s == 30.0


def test_run_exits_config_status_with_config_error_when_application_id_invalid(
    make_module: MakeModule, fake_worker: type[_FakeWorker]
) -> None:
    module = make_module(_APP)

    result = _invoke("run", f"{module}:app", "--application-id", "has space")

    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.startswith("streamlet: ConfigError: application_id 'has space'")
    assert fake_worker.runs == []


def test_run_help_lists_options() -> None:
    result = _invoke("run", "--help")

    assert result.exit_code == 0
    for option in ("--workers", "--bootstrap-servers", "--config", "--application-id"):
        assert option in result.stdout
    assert "--worker-index" not in result.stdout


def test_main_help_lists_commands() -> None:
    result = _invoke("--help")

    assert result.exit_code == 0
    assert "run" in result.stdout
    assert "describe" in result.stdout


def test_run_fails_with_usage_error_when_log_level_unknown(tmp_path: Path) -> None:
    # A subprocess: under pytest the root logger already has handlers, which makes
    # logging.basicConfig a no-op, so the failure only shows in a fresh interpreter.
    result = subprocess.run(
        [sys.executable, "-m", "streamlet", "run", "wordcount:app", "--log-level", "chatty"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )

    assert result.returncode == 2, result.stderr[-2000:]
    assert "--log-level" in result.stderr
