"""``streamlet describe --format``, and ``lag``/``reset`` argument handling (no broker)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from streamlet.cli import main

MakeModule = Callable[[str], str]

_APP = """
import streamlet as sl

app = sl.App("cli-ops", bootstrap_servers="127.0.0.1:1")
app.stream("orders").group_by(lambda k, v: v, name="by-value").count("counts")
"""


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_describe_mermaid_prints_a_flowchart(make_module: MakeModule) -> None:
    result = _invoke("describe", f"{make_module(_APP)}:app", "--format", "mermaid")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flowchart TD\n")
    assert '"cli-ops-by-value-repartition"' in result.output


def test_describe_dot_prints_a_digraph(make_module: MakeModule) -> None:
    result = _invoke("describe", f"{make_module(_APP)}:app", "--format", "dot")
    assert result.exit_code == 0, result.output
    assert result.output.startswith('digraph "cli-ops" {')


def test_describe_png_without_graphviz_says_so_in_one_line(
    make_module: MakeModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = make_module(_APP)
    monkeypatch.setenv("PATH", "")
    result = _invoke("describe", f"{module}:app", "--format", "png")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "Graphviz's 'dot'" in result.output and "--format dot" in result.output


def test_reset_without_a_target_offset_is_a_usage_error(make_module: MakeModule) -> None:
    result = _invoke("reset", f"{make_module(_APP)}:app")
    assert result.exit_code == 2
    assert "exactly one of --to-earliest, --to-latest, --to-datetime" in result.output


def test_reset_with_two_target_offsets_is_a_usage_error(make_module: MakeModule) -> None:
    result = _invoke(
        "reset", f"{make_module(_APP)}:app", "--to-earliest", "--to-datetime", "2026-01-01"
    )
    assert result.exit_code == 2


def test_reset_with_a_malformed_datetime_names_it(make_module: MakeModule) -> None:
    result = _invoke("reset", f"{make_module(_APP)}:app", "--to-datetime", "yesterday")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "'yesterday' is not an ISO-8601 date-time" in result.output


def test_parse_datetime_reads_naive_times_as_utc() -> None:
    from streamlet.ops.reset import parse_datetime

    assert parse_datetime("1970-01-01T00:00:01") == 1000
    assert parse_datetime("1970-01-01T01:00:01+01:00") == 1000
    assert parse_datetime("1970-01-01T00:00:01Z") == 1000


def test_describe_png_hands_the_dot_source_to_graphviz(
    make_module: MakeModule, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = make_module(_APP)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"  # stands in for Graphviz: records its arguments and input
    fake.write_text('#!/bin/sh\necho "$@" > args.txt\ncat > input.dot\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = _invoke("describe", f"{module}:app", "--format", "png", "-o", "pic.png")
    assert result.exit_code == 0, result.output
    assert result.output == "wrote pic.png\n"
    assert (tmp_path / "args.txt").read_text().split() == ["-Tpng", "-o", "pic.png"]
    assert (tmp_path / "input.dot").read_text().startswith('digraph "cli-ops" {')
