"""The run loop: each workload x guarantee x engine in turn, one row per run."""

from __future__ import annotations

from benchmarks import phases, report
from benchmarks.engines.spec import WINDOWED, EngineSpec
from benchmarks.launchers import EngineUnavailable, Launcher, launcher_for
from benchmarks.outcome import Outcome


def prepare(engines: tuple[str, ...]) -> tuple[dict[str, Launcher], dict[str, str]]:
    """A launcher per engine, and why each engine that cannot run here cannot."""
    launchers: dict[str, Launcher] = {}
    unavailable: dict[str, str] = {}
    for name in engines:
        launcher = launcher_for(name)
        try:
            launcher.prepare()
        except EngineUnavailable as exc:
            unavailable[name] = str(exc)
        launchers[name] = launcher
    return launchers, unavailable


def run_all(
    ctx: phases.Context, launchers: dict[str, Launcher], unavailable: dict[str, str]
) -> list[Outcome]:
    """Every workload x guarantee x engine, printing each row as it completes; then the
    restore of every successful W2 run (last, because its probes append to the input)."""
    config = ctx.config
    outcomes: list[Outcome] = []
    restores: list[tuple[Outcome, Launcher, EngineSpec]] = []
    total = len(config.workloads) * len(config.guarantees) * len(config.engines)
    print("\n" + report.header_line(), flush=True)
    for workload in config.workloads:
        for guarantee in config.guarantees:
            for engine in config.engines:
                outcome = Outcome(engine, workload, guarantee)
                outcomes.append(outcome)
                if engine in unavailable:
                    outcome.failure = unavailable[engine]
                elif workload in launchers[engine].skips:
                    outcome.notes.append(launchers[engine].skips[workload])
                else:
                    spec = _measure(ctx, launchers[engine], outcome)
                    if spec is not None and workload == "w2":
                        restores.append((outcome, launchers[engine], spec))
                print(f"{report.row_line(outcome)}   [{len(outcomes)}/{total}]", flush=True)
    for probe, (outcome, launcher, spec) in enumerate(restores):
        try:
            outcome.restore_s = phases.restore(ctx, launcher, spec, probe)
        except phases.PhaseFailed as exc:
            outcome.notes.append(f"restore failed: {exc}")
        got = f"{outcome.restore_s:.1f} s" if outcome.restore_s is not None else outcome.notes[-1]
        print(f"restore of W2's store: {outcome.engine} {outcome.guarantee}: {got}", flush=True)
    return outcomes


def _measure(ctx: phases.Context, launcher: Launcher, outcome: Outcome) -> EngineSpec | None:
    """Throughput then latency; the throughput spec when it succeeded (for the restore)."""
    engine, workload, guarantee = outcome.engine, outcome.workload, outcome.guarantee
    spec = ctx.spec(engine, workload, guarantee, "tp")
    try:
        figures = phases.throughput(ctx, launcher, spec)
    except phases.PhaseFailed as exc:
        outcome.failure = str(exc)
        return None
    outcome.records_per_s = figures.records_per_s
    outcome.seconds = figures.seconds
    outcome.peak_rss_mb = figures.peak_rss_mb
    outcome.outputs = figures.outputs
    outcome.notes.extend(figures.notes)
    outcome.final_counts = figures.final_counts
    if workload in WINDOWED or workload == "w5":
        return spec  # no latency phase: see phases.py
    try:
        lat = phases.latency(ctx, launcher, ctx.spec(engine, workload, guarantee, "lat"))
    except phases.PhaseFailed as exc:
        outcome.notes.append(f"latency failed: {exc}")
    else:
        outcome.p50_ms, outcome.p99_ms = lat.p50_ms, lat.p99_ms
        outcome.latency_samples, outcome.startup_s = lat.samples, lat.startup_s
    return spec
