"""The ``streamlet`` command: thin; it locates the target, builds config, calls the library."""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

import click

from streamlet.app import App
from streamlet.config import AT_LEAST_ONCE, EXACTLY_ONCE_V2, AppConfig, ErrorPolicy
from streamlet.errors import StreamletError
from streamlet.topology.topology import Topology


def _parse_config(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--config")
        out[key.strip()] = value.strip()
    return out


def _resolve(target: str) -> App | Topology:
    from streamlet.locate import locate

    return locate(target)


def _topology(obj: App | Topology) -> Topology:
    return obj.topology() if isinstance(obj, App) else obj


def _build_config(obj: App | Topology, opts: dict[str, Any], extra: dict[str, str]) -> AppConfig:
    if isinstance(obj, App):
        cfg = obj.config
    else:
        cfg = AppConfig(application_id=opts["application_id"] or obj.application_id)
    changes: dict[str, Any] = {}
    for field in (
        "bootstrap_servers",
        "processing_guarantee",
        "commit_interval_ms",
        "state_dir",
        "metrics_port",
    ):
        if opts.get(field) is not None:
            changes[field] = opts[field]
    if opts.get("application_id") and isinstance(obj, App):
        changes["application_id"] = opts["application_id"]
    if extra:
        changes["client_config"] = {**cfg.client_config, **extra}
    policies: dict[str, Any] = {
        field: ErrorPolicy(opts[f"on_{field}_error"])
        for field in ("deserialization", "processing", "production")
        if opts.get(f"on_{field}_error")
    }
    if opts.get("dead_letter_topic"):
        policies["dead_letter_topic"] = opts["dead_letter_topic"]
    if policies:
        changes["errors"] = dataclasses.replace(cfg.errors, **policies)
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _app_metrics_port(target: str) -> int | None:
    """An ``App(metrics_port=)`` given to ``--workers N``: the supervisor serves it."""
    try:
        obj = _resolve(target)
    except StreamletError as exc:
        click.echo(f"streamlet: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    return obj.config.metrics_port if isinstance(obj, App) else None


@click.group()
@click.version_option(package_name="streamlet")
def main() -> None:
    """streamlet: exactly-once stream processing on Apache Kafka."""


@main.command()
@click.argument("target")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes to run under this one.",
)
@click.option("--bootstrap-servers", help="Kafka bootstrap servers (overrides the App's).")
@click.option("--application-id", help="Application id (needed for a bare Topology).")
@click.option("--processing-guarantee", type=click.Choice([EXACTLY_ONCE_V2, AT_LEAST_ONCE]))
@click.option("--commit-interval-ms", type=click.IntRange(min=1))
@click.option("--state-dir", type=click.Path(file_okay=False))
@click.option(
    "--config",
    "-c",
    multiple=True,
    metavar="KEY=VALUE",
    help="A raw librdkafka setting; repeatable.",
)
@click.option("--on-deserialization-error", type=click.Choice([p.value for p in ErrorPolicy]))
@click.option("--on-processing-error", type=click.Choice([p.value for p in ErrorPolicy]))
@click.option("--on-production-error", type=click.Choice([p.value for p in ErrorPolicy]))
@click.option("--dead-letter-topic", help="Where dead_letter policies write (default <app>-dlq).")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus metrics on /metrics and /health on this port (all workers).",
)
@click.option("--worker-index", type=click.IntRange(min=0), default=0, hidden=True)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
def run(target: str, workers: int, worker_index: int, log_level: str, **opts: Any) -> None:
    """Run TARGET (module:app, module:topology or module:factory())."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
    )
    extra = _parse_config(opts.get("config") or ())  # fails fast on malformed pairs
    if workers > 1:
        from streamlet.runtime.supervisor import supervise

        base = ["-m", "streamlet", "run", target, "--log-level", log_level]
        metrics_port = opts.pop("metrics_port") or _app_metrics_port(target)
        for key, value in opts.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, tuple):
                for item in value:
                    base += [flag, item]
            elif value is not None:
                base += [flag, str(value)]
        args = [[*base, "--worker-index", str(i)] for i in range(workers)]
        try:
            status = supervise(args, metrics_port=metrics_port)
        except StreamletError as exc:
            click.echo(f"streamlet: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)
        sys.exit(status)
    try:
        obj = _resolve(target)
        cfg = _build_config(obj, opts, extra)
        topology = _topology(obj)
        from streamlet.runtime.worker import Worker

        Worker(topology, cfg, worker_index).run()
    except StreamletError as exc:
        from streamlet.runtime.exitcodes import status_for

        click.echo(f"streamlet: {type(exc).__name__}: {exc}", err=True)
        sys.exit(status_for(exc))


@main.command()
@click.argument("target")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "mermaid", "dot", "png"]),
    default="text",
    show_default=True,
    help="png needs Graphviz's dot on PATH.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="png: the file to write.")
def describe(target: str, fmt: str, output: str | None) -> None:
    """Print TARGET's topology: sub-topologies, sources, processors, stores, sinks."""
    from streamlet.cli_ops import render

    try:
        topology = _topology(_resolve(target))
        click.echo(render(topology, fmt, output))
    except StreamletError as exc:
        click.echo(f"streamlet: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


def _register_optional_groups() -> None:
    from streamlet.cli_ops import lag, reset

    main.add_command(lag)
    main.add_command(reset)
    try:
        from streamlet.cli_schema import schema
    except ImportError:  # the Avro extras are optional
        return
    main.add_command(schema)


_register_optional_groups()

if __name__ == "__main__":
    main()
