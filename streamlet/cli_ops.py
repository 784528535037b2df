"""``streamlet lag`` and ``streamlet reset``: operations through the broker, app running or not.

Thin: each command locates the target, builds its configuration like ``streamlet run`` and
calls :mod:`streamlet.ops`. Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from streamlet.config import AppConfig
from streamlet.errors import StreamletError
from streamlet.topology.topology import Topology

F = TypeVar("F", bound=Callable[..., Any])


def _connection_options(fn: F) -> F:
    """The options that say where the app's group and state are (as ``streamlet run``)."""
    for option in reversed(
        (
            click.argument("target"),
            click.option(
                "--bootstrap-servers", help="Kafka bootstrap servers (overrides the App's)."
            ),
            click.option("--application-id", help="Application id (needed for a bare Topology)."),
            click.option("--state-dir", type=click.Path(file_okay=False)),
            click.option(
                "--config",
                "-c",
                multiple=True,
                metavar="KEY=VALUE",
                help="A raw librdkafka setting.",
            ),
        )
    ):
        fn = option(fn)
    return fn


def _load(target: str, opts: dict[str, Any]) -> tuple[Topology, AppConfig]:
    """The target's topology and configuration, once a broker answered at its servers."""
    from streamlet.cli import _build_config, _parse_config, _resolve, _topology
    from streamlet.kafka.preflight import check_reachable

    obj = _resolve(target)
    cfg = _build_config(obj, opts, _parse_config(opts.get("config") or ()))
    check_reachable(cfg.bootstrap_servers, cfg.client_config)
    return _topology(obj), cfg


def _fail(exc: StreamletError) -> None:
    click.echo(f"streamlet: {type(exc).__name__}: {exc}", err=True)
    raise click.exceptions.Exit(1)


@click.command()
@_connection_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def lag(target: str, fmt: str, **opts: Any) -> None:
    """Per input partition of TARGET: committed offset, end offset and lag."""
    from streamlet.kafka.admin import Admin
    from streamlet.ops.lag import consumer_lag, render_json, render_text

    try:
        topology, cfg = _load(target, opts)
        rows = consumer_lag(
            Admin(cfg.bootstrap_servers, cfg.client_config), topology, cfg.application_id
        )
    except StreamletError as exc:
        _fail(exc)
    click.echo(render_json(rows) if fmt == "json" else render_text(rows))


@click.command()
@_connection_options
@click.option("--to-earliest", "to", flag_value="earliest", help="Reprocess everything retained.")
@click.option("--to-latest", "to", flag_value="latest", help="Skip everything not yet processed.")
@click.option(
    "--to-datetime", "when", metavar="ISO", help="Reprocess from this instant (UTC if naive)."
)
@click.option("--execute", is_flag=True, help="Apply the plan (without it: a dry run).")
def reset(target: str, to: str | None, when: str | None, execute: bool, **opts: Any) -> None:
    """Reset TARGET: rewind its input offsets, delete its internal topics and local state.

    A dry run unless --execute; refused while any worker of the app is running."""
    from streamlet.kafka.admin import Admin
    from streamlet.ops import reset as ops

    if (to is None) == (when is None):
        raise click.UsageError("give exactly one of --to-earliest, --to-latest, --to-datetime")
    try:
        stamp = ops.parse_datetime(when) if when is not None else None
        topology, cfg = _load(target, opts)
        admin = Admin(cfg.bootstrap_servers, cfg.client_config)
        plan = ops.plan_reset(admin, topology, cfg, to=to or "datetime", timestamp_ms=stamp)
        if execute:
            ops.execute(admin, plan)
    except StreamletError as exc:
        _fail(exc)
    click.echo(plan.describe(executed=execute))


def render(topology: Topology, fmt: str, output: str | None) -> str:
    """``streamlet describe``'s text; for png, writes the picture and names the file."""
    from streamlet.topology import render as pictures

    if fmt == "text":
        return topology.describe()
    if fmt == "mermaid":
        return pictures.to_mermaid(topology)
    if fmt == "dot":
        return pictures.to_dot(topology)
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        raise StreamletError(
            "--format png needs Graphviz's 'dot' on PATH (e.g. apt-get install graphviz); "
            "--format dot or mermaid print the picture's source without it"
        )
    path = output or f"{topology.application_id}.png"
    done = subprocess.run(
        [dot, "-Tpng", "-o", path], input=pictures.to_dot(topology), text=True, capture_output=True
    )
    if done.returncode != 0:
        raise StreamletError(f"dot failed to write {path}: {done.stderr.strip()}")
    return f"wrote {path}"
