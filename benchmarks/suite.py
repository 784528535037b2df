"""The run loop: engines prepared once, then every cell's repeats interleaved, restores last.

A cell is one workload x guarantee x engine. Its throughput runs ``--repeats`` times,
interleaved so that drift in the machine's load hits every engine alike::

    for workload: for guarantee: for repeat in 1..N: for engine: throughput run

and its row reports the median records/s with the min and the max; the other figures come
from the median run, except peak RSS, the max over the runs. A failed repeat is a note; the
cell fails only when every repeat failed. Then the cell's latency phase(s), then, once every
cell ran, W2's restore phase per engine and guarantee, and the scaling cell (``--scaling``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from benchmarks import phases, report
from benchmarks.engines.spec import WINDOWED
from benchmarks.launchers import SCALING_ENGINES, EngineUnavailable, Launcher, launcher_for
from benchmarks.outcome import Outcome

# a restore figure is not measured for these engines (their changelog is not W2's layout)
_NO_RESTORE = {"quix": "restore not measured: Quix Streams' changelog has its own layout"}


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


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    scaling: list[Outcome] = field(default_factory=list)


def run_all(
    ctx: phases.Context, launchers: dict[str, Launcher], unavailable: dict[str, str]
) -> Results:
    """Every cell, printing each row as it completes; then W2's restores; then scaling."""
    config = ctx.config
    results = Results()
    print("\n" + report.header_line(), flush=True)
    for workload in config.workloads:
        for guarantee in config.guarantees:
            results.outcomes += _cells(
                ctx, launchers, unavailable, config.engines, workload, guarantee
            )
    if config.restore and "w2" in config.workloads:
        _restores(ctx, launchers, unavailable, results.outcomes)
    if config.scaling:
        print("\nscaling: W2 exactly_once with 1, 2 and 4 streamlet workers", flush=True)
        missing = tuple(e for e in SCALING_ENGINES if e not in launchers)
        more, why = prepare(missing)
        launchers, unavailable = {**launchers, **more}, {**unavailable, **why}
        results.scaling = _cells(
            ctx,
            launchers,
            unavailable,
            SCALING_ENGINES,
            "w2",
            "exactly_once",
            latency=False,
            phase="scale",  # app ids of their own: streamlet-1/-2 may have run W2 above
        )
    return results


def _cells(
    ctx: phases.Context,
    launchers: dict[str, Launcher],
    unavailable: dict[str, str],
    engines: tuple[str, ...],
    workload: str,
    guarantee: str,
    latency: bool = True,
    phase: str = "tp",
) -> list[Outcome]:
    """One workload x guarantee for every engine: the repeats interleaved, then latency."""
    config = ctx.config
    outcomes = {e: Outcome(e, workload, guarantee) for e in engines}
    runs: dict[str, list[phases.Throughput]] = {e: [] for e in engines}
    failures: dict[str, list[str]] = {e: [] for e in engines}
    running = []
    for engine in engines:
        if engine in unavailable:
            outcomes[engine].failure = unavailable[engine]
        elif workload in launchers[engine].skips:
            outcomes[engine].notes.append(launchers[engine].skips[workload])
        else:
            running.append(engine)
    for repeat in range(1, config.repeats + 1):
        for engine in running:
            spec = ctx.spec(engine, workload, guarantee, f"{phase}{repeat}")
            try:
                figures = phases.throughput(ctx, launchers[engine], spec)
            except phases.PhaseFailed as exc:
                failures[engine].append(f"repeat {repeat} failed: {exc}")
                got = "failed"
            else:
                runs[engine].append(figures)
                got = f"{figures.records_per_s:,.0f} records/s"
            print(
                f"  {engine} {workload} {guarantee} repeat {repeat}/{config.repeats}: {got}",
                flush=True,
            )
    for engine in running:
        outcome = outcomes[engine]
        _summarise(outcome, runs[engine], failures[engine])
        wants_latency = latency and config.latency and workload not in WINDOWED
        if outcome.ok and wants_latency and workload != "w5":
            _latency(ctx, launchers[engine], outcome)
    for engine in engines:
        print(report.row_line(outcomes[engine]), flush=True)
    return [outcomes[e] for e in engines]


def _summarise(outcome: Outcome, runs: list[phases.Throughput], failures: list[str]) -> None:
    outcome.notes.extend(failures)
    if not runs:
        outcome.failure = failures[-1] if failures else "no run"
        return
    ordered = sorted(runs, key=lambda r: r.records_per_s)
    median = ordered[(len(ordered) - 1) // 2]  # a real run: the lower middle of an even count
    rates = [r.records_per_s for r in runs]
    outcome.records_per_s = statistics.median(rates)
    outcome.records_per_s_min, outcome.records_per_s_max = min(rates), max(rates)
    outcome.records_per_s_runs = [round(r, 1) for r in rates]
    outcome.seconds = median.seconds
    outcome.outputs = median.outputs
    outcome.peak_rss_mb = max(r.peak_rss_mb for r in runs)
    outcome.peak_rss_worker_mb = max(r.peak_rss_worker_mb for r in runs)
    outcome.processes = max(r.processes for r in runs)
    outcome.final_counts = median.final_counts
    for note in (n for r in runs for n in r.notes):
        if note not in outcome.notes:
            outcome.notes.append(note)
    if median.state is not None:
        outcome.rocksdb_sst_bytes = median.state.sst_bytes
        outcome.rocksdb_dir_bytes = median.state.dir_bytes
        outcome.rocksdb_bytes_per_million_keys = round(median.state.sst_bytes_per_million_keys)


def _latency(ctx: phases.Context, launcher: Launcher, outcome: Outcome) -> None:
    got: list[phases.Latency] = []
    for repeat in range(1, ctx.config.latency_repeats + 1):
        spec = ctx.spec(outcome.engine, outcome.workload, outcome.guarantee, f"lat{repeat}")
        try:
            got.append(phases.latency(ctx, launcher, spec))
        except phases.PhaseFailed as exc:
            outcome.notes.append(f"latency failed: {exc}")
    if got:
        lat = sorted(got, key=lambda x: x.p99_ms)[(len(got) - 1) // 2]
        outcome.p50_ms, outcome.p99_ms = lat.p50_ms, lat.p99_ms
        outcome.latency_samples, outcome.startup_s = lat.samples, lat.startup_s


def _restores(
    ctx: phases.Context,
    launchers: dict[str, Launcher],
    unavailable: dict[str, str],
    outcomes: list[Outcome],
) -> None:
    """W2's restore once per engine and guarantee (a 1M-record pre-fill each: not repeated)."""
    for probe, outcome in enumerate(o for o in outcomes if o.workload == "w2"):
        if outcome.engine in unavailable:
            continue
        if outcome.engine in _NO_RESTORE:
            outcome.notes.append(_NO_RESTORE[outcome.engine])
            continue
        launcher = launchers[outcome.engine]
        try:
            got = phases.restore(ctx, launcher, outcome.guarantee, probe)
        except phases.PhaseFailed as exc:
            outcome.notes.append(f"restore failed: {exc}")
            print(f"restore: {outcome.engine} {outcome.guarantee}: failed: {exc}", flush=True)
            continue
        outcome.restore_s = got.launch_to_probe_s
        said = "the engine reported no restoration"
        if got.reported is None:
            outcome.notes.append(f"restore: {said}")
        else:
            outcome.restore_records = got.reported.records
            outcome.restore_seconds = got.reported.seconds
            outcome.restore_records_per_s = got.reported.records_per_s
            said = (
                f"{got.reported.records:,} records in {got.reported.seconds:.2f} s "
                f"({got.reported.records_per_s:,.0f} records/s)"
            )
        print(
            f"restore: {outcome.engine} {outcome.guarantee}: {said}; launch to probe output "
            f"{got.launch_to_probe_s:.1f} s (changelog pre-filled in {got.prefill_s:.1f} s)",
            flush=True,
        )
