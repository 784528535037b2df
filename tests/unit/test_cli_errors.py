"""Errors a user can act on at once: no broker, an unknown client setting, error policies
from the command line, and the default client.id (no broker needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import streamlet.runtime.worker
from streamlet.cli import main
from streamlet.config import AppConfig, ErrorPolicy
from streamlet.kafka.clients import (
    consumer_config,
    producer_config,
    restore_consumer_config,
    with_client_id,
)

MakeModule = Callable[[str], str]
ROOT = Path(__file__).resolve().parents[2]

_APP = """
import streamlet as sl

app = sl.App("cli-errors", bootstrap_servers="127.0.0.1:1", state_dir="state")
app.stream("orders").to("copies")
"""


def test_run_against_a_closed_port_exits_at_once_with_one_line(
    make_module: MakeModule, tmp_path: Path
) -> None:
    module = make_module(_APP)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streamlet", "run", f"{module}:app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert elapsed < 15, f"took {elapsed:.1f} s"  # a 5 s probe plus start-up, on a busy machine
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("streamlet: BrokerUnavailableError: no Kafka broker answered")
    assert "127.0.0.1:1" in lines[0]


def test_lag_against_a_closed_port_is_one_line(make_module: MakeModule) -> None:
    result = CliRunner().invoke(main, ["lag", f"{make_module(_APP)}:app"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "no Kafka broker answered at 127.0.0.1:1" in result.output


def test_run_with_an_unknown_client_setting_names_it(make_module: MakeModule) -> None:
    result = CliRunner().invoke(
        main, ["run", f"{make_module(_APP)}:app", "-c", "fetch.wait.max.msec=5"]
    )
    assert result.exit_code == 78  # exitcodes.EXIT_CONFIG: a restart cannot cure it
    assert result.output.count("\n") == 1
    assert "ConfigError: unknown client setting 'fetch.wait.max.msec'" in result.output


class _FakeWorker:
    cfg: AppConfig

    def __init__(self, _topology: Any, cfg: AppConfig, _index: int = 0) -> None:
        _FakeWorker.cfg = cfg

    def run(self) -> None:
        pass


def test_run_sets_error_policies_from_the_command_line(
    make_module: MakeModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streamlet.runtime.worker, "Worker", _FakeWorker)
    result = CliRunner().invoke(
        main,
        [
            "run",
            f"{make_module(_APP)}:app",
            "--on-deserialization-error",
            "dead_letter",
            "--on-processing-error",
            "continue",
            "--dead-letter-topic",
            "poison",
        ],
    )
    assert result.exit_code == 0, result.output
    errors = _FakeWorker.cfg.errors
    assert errors.deserialization is ErrorPolicy.DEAD_LETTER
    assert errors.processing is ErrorPolicy.CONTINUE
    assert errors.production is ErrorPolicy.FAIL
    assert _FakeWorker.cfg.dead_letter_topic == "poison"


def test_run_rejects_an_unknown_error_policy(make_module: MakeModule) -> None:
    result = CliRunner().invoke(
        main, ["run", f"{make_module(_APP)}:app", "--on-production-error", "ignore"]
    )
    assert result.exit_code == 2
    assert "'ignore' is not one of" in result.output


def test_client_id_defaults_to_app_and_worker_for_every_client() -> None:
    cfg = with_client_id(AppConfig("shop"), 3)
    assert consumer_config(cfg)["client.id"] == "shop-3"
    assert producer_config(cfg, None, lambda _e, _m: None)["client.id"] == "shop-3"
    assert restore_consumer_config(cfg)["client.id"] == "shop-3-restore"


def test_client_id_the_user_set_is_kept() -> None:
    cfg = with_client_id(AppConfig("shop", client_config={"client.id": "mine"}), 3)
    assert consumer_config(cfg)["client.id"] == "mine"
    assert restore_consumer_config(cfg)["client.id"] == "mine-restore"
