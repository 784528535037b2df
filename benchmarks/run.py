"""The one command: ``python -m benchmarks.run [--records N] [--engines ...] [--quick]``.

Pre-loads the input once, runs every workload x guarantee x engine cell (``--repeats``
throughput runs interleaved across engines, then latency), then W2's restore per engine and
guarantee, then the scaling cell (``--scaling``); prints the table and writes
``benchmarks/results/<UTC timestamp>.json`` and ``.png``. Every topic, application id and
consumer group of the run contains the run id and is deleted when the run ends.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path
from types import FrameType

from benchmarks import phases, report, suite
from benchmarks.admin import BenchAdmin, TopicRequest, broker_version
from benchmarks.config import (
    DEFAULT_RECORDS,
    QUICK_ENGINES,
    QUICK_GUARANTEES,
    QUICK_RECORDS,
    RunConfig,
    new_run_id,
)
from benchmarks.data import KEY_COUNT, VALUE_BYTES, Dataset
from benchmarks.engines.spec import GRACE_MS, GUARANTEES, WINDOW_MS, WINDOWED, WORKLOADS
from benchmarks.launchers import BENCH, ENGINES, JVM_HEAP, KNOWN_ENGINES, QUIX_REQUIREMENT
from benchmarks.loader import preload, preload_joined, preload_timed

WORKLOAD_TITLES = {
    "w1": "filter + map_values -> to (stateless)",
    "w2": "count by key with a store + changelog -> to",
    "w3": "group_by through a repartition topic, then W2",
    "w4": "1-minute tumbling count by key (5 s grace) over event times, emit on close",
    "w4u": "W4, emit on every update",
    "w5": "page views joined with a 100k-row users table (stream-table), then count by region",
}


def _names(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    return tuple(v for value in values for v in value.split(",") if v)


def parse_config(argv: Sequence[str] | None) -> tuple[RunConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--records", type=int, help=f"input records (default {DEFAULT_RECORDS:,})")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--commit-interval-ms", type=int, default=100)
    parser.add_argument("--engines", nargs="+", help=f"among {', '.join(KNOWN_ENGINES)}")
    parser.add_argument(
        "--workloads",
        nargs="+",
        help=f"among {', '.join(WORKLOADS)}; `scaling` is the same as --scaling",
    )
    parser.add_argument("--guarantees", nargs="+", help=f"among {', '.join(GUARANTEES)}")
    parser.add_argument("--latency-rate", type=int, help="records/s (default 1000)")
    parser.add_argument("--latency-seconds", type=float, help="paced input (default 10)")
    parser.add_argument("--timeout", type=float, help="per throughput run, s")
    parser.add_argument("--repeats", type=int, help="throughput runs per cell (default 3)")
    parser.add_argument("--latency-repeats", type=int, default=1, help="latency runs per cell")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency phase")
    parser.add_argument("--no-restore", action="store_true", help="skip W2's restore phase")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="also W2 exactly_once with streamlet-1, -2 and -4 (a scaling table)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke check: {QUICK_RECORDS:,} records, exactly-once, "
        f"{', '.join(QUICK_ENGINES)}, short latency phase",
    )
    parser.add_argument("--bootstrap", default=os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--results-dir", type=Path, default=BENCH / "results")
    parser.add_argument("--keep-scratch", action="store_true", help="keep engine logs and state")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    records = args.records or (QUICK_RECORDS if quick else DEFAULT_RECORDS)
    workloads = _names(args.workloads)
    scaling = bool(args.scaling) or (workloads is not None and "scaling" in workloads)
    if workloads is not None:
        workloads = tuple(w for w in workloads if w != "scaling")
        if not workloads and not scaling:
            workloads = None
    config = RunConfig(
        bootstrap=args.bootstrap,
        records=records,
        partitions=args.partitions,
        commit_interval_ms=args.commit_interval_ms,
        engines=_names(args.engines) or (QUICK_ENGINES if quick else ENGINES),
        workloads=WORKLOADS if workloads is None else workloads,
        guarantees=_names(args.guarantees) or (QUICK_GUARANTEES if quick else GUARANTEES),
        latency_rate=args.latency_rate or (500 if quick else 1000),
        latency_seconds=args.latency_seconds or (2.0 if quick else 10.0),
        timeout_s=args.timeout or 60.0 + records / 1000.0,
        quick=quick,
        repeats=args.repeats or (1 if quick else 3),
        latency_repeats=args.latency_repeats,
        latency=not args.no_latency,
        restore=not args.no_restore,
        scaling=scaling,
    )
    return config, args


def _header(config: RunConfig, run_id: str, version: str) -> str:
    return "\n".join(
        [
            f"streamlet benchmarks, run {run_id}",
            f"  broker       Apache Kafka {version} at {config.bootstrap}",
            f"  input        {config.records:,} records, {VALUE_BYTES}-byte JSON values, "
            f"{KEY_COUNT:,} keys, {config.partitions} partitions",
            f"  commit       every {config.commit_interval_ms} ms on every engine",
            "  threads      1 stream thread per process (Kafka Streams num.stream.threads=1); "
            "streamlet-N runs N worker processes",
            f"  repeats      {config.repeats} throughput runs per cell, engines interleaved; "
            "rows show the median (min-max)",
            (
                f"  latency      {config.latency_rate:,} records/s for {config.latency_seconds:g} s "
                f"after warm-up, {config.latency_repeats} run(s) per cell"
                if config.latency
                else "  latency      not measured (--no-latency)"
            ),
            f"  restore      W2's changelog pre-filled with {config.records:,} records, "
            "a fresh instance restores it"
            if config.restore and "w2" in config.workloads
            else "  restore      not measured",
            f"  scaling      W2 exactly_once, streamlet 1/2/4 workers on {os.cpu_count()} cores"
            if config.scaling
            else "  scaling      not run",
            *(f"  {w:<13}{WORKLOAD_TITLES[w]}" for w in config.workloads),
            f"  engines      {', '.join(config.engines)}",
            f"  guarantees   {', '.join(config.guarantees)}",
        ]
    )


def _versions() -> dict[str, str]:
    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "streamlet": installed("streamlet"),
        "confluent-kafka": installed("confluent-kafka"),
        "quixstreams": QUIX_REQUIREMENT,
        "kafka-streams": "4.4.0 (benchmarks/peers/kafka-streams/pom.xml), JVM " + JVM_HEAP,
        "python": platform.python_version(),
    }


def _windows_meta(dataset: Dataset) -> dict[str, int] | None:
    w = dataset.windows
    if w is None:
        return None
    return {
        "window_ms": WINDOW_MS,
        "grace_ms": GRACE_MS,
        "event_time_base_ms": w.base_ms,
        "tick_ms": w.tick_ms,
        "windows": w.windows,
    }


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM (and SIGINT, even when a shell started us in the background) unwinds through
    # the phases' cleanup: the running engine is stopped and the run's topics are deleted.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    config, args = parse_config(argv)
    run_id = new_run_id()
    stamp = run_id.removeprefix("bench-")[:15]
    results_dir: Path = args.results_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = results_dir / f"{stamp}.tmp"
    version = broker_version()
    print(_header(config, run_id, version), flush=True)
    admin = BenchAdmin(config.bootstrap)
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"  load         {' '.join(map(str, load_before))} (1, 5, 15 min)", flush=True)
    started = time.time()
    try:
        launchers, unavailable = suite.prepare(config.engines)
        topic = f"{run_id}-input"
        admin.create_topics([TopicRequest(topic, config.partitions)])
        dataset = preload(config.bootstrap, topic, config.records)
        if "w5" in config.workloads:
            users, views = f"{run_id}-users", f"{run_id}-page-views"
            admin.create_topics(
                [TopicRequest(users, config.partitions), TopicRequest(views, config.partitions)]
            )
            joined = preload_joined(
                config.bootstrap, users, views, config.records, config.partitions
            )
            dataset = replace(dataset, joined=joined)
            print(
                f"  pre-loaded   {joined.users:,} users, then the records keyed by user, in "
                f"{joined.load_seconds:.1f} s (W5: {len(joined.region_counts)} regions)",
                flush=True,
            )
        print(
            f"  pre-loaded   {dataset.records:,} records in {dataset.load_seconds:.1f} s "
            f"({dataset.records / dataset.load_seconds:,.0f} records/s); "
            f"W1 keeps {dataset.w1_outputs:,}",
            flush=True,
        )
        if any(w in WINDOWED for w in config.workloads):
            timed = f"{run_id}-input-timed"
            admin.create_topics([TopicRequest(timed, config.partitions)])
            windows = preload_timed(config.bootstrap, timed, config.records, config.partitions)
            dataset = replace(dataset, windows=windows)
            print(
                f"  pre-loaded   the same records with event times in {windows.load_seconds:.1f} s"
                f" (W4: {windows.windows:,} windows)",
                flush=True,
            )
        ctx = phases.Context(config, run_id, admin, dataset, scratch)
        results = suite.run_all(ctx, launchers, unavailable)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        deleted = admin.delete_everything_of(run_id)
        print(f"\ncleaned up {len(deleted)} topics of {run_id}", flush=True)
        if not args.keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    outcomes = results.outcomes
    print("\n" + report.table(outcomes))
    if results.scaling:
        print("\n" + report.scaling_table(results.scaling))
    meta = {
        "run_id": run_id,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "broker": {"version": version, "bootstrap": config.bootstrap},
        "config": asdict(config),
        "input": {
            "value_bytes": VALUE_BYTES,
            "keys": KEY_COUNT,
            "w1_outputs": dataset.w1_outputs,
            "w4": _windows_meta(dataset),
            "w5": None
            if dataset.joined is None
            else {
                "users": dataset.joined.users,
                "region_counts": dataset.joined.region_counts,
            },
        },
        "host": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            # the machine may be shared: its load around the run puts the figures in context
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": _versions(),
    }
    json_path = results_dir / f"{stamp}.json"
    report.write_json(json_path, meta, outcomes, results.scaling)
    title = (
        f"{config.records:,} records, {config.partitions} partitions, commit every "
        f"{config.commit_interval_ms} ms, Kafka {version} ({run_id})"
    )
    why_not = report.write_chart(results_dir / f"{stamp}.png", title, outcomes)
    print(f"\nwrote {json_path}" + (f"; {why_not}" if why_not else f" and {stamp}.png"))
    return 0 if all(o.ok for o in outcomes + results.scaling) else 1


if __name__ == "__main__":
    sys.exit(main())
