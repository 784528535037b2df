"""The measurements of one engine run: throughput, latency, and W2's restore.

W4 (windowed) has a throughput phase only: its input carries event times hours old, and an
emit-on-close window comes out a minute of event time after its first record, so the
latency phase's paced, wall-clock-stamped input would measure the window, not the engine.
W5 (join) has a throughput phase only too: its latency phase would need a users table
pre-loaded into every latency instance's fresh topics; its throughput row also checks each
region's final count against the data.

The restore phase is W2 on a fresh application whose store changelog the harness pre-fills
(loader.prefill_changelog) before a fresh instance starts on an empty input of its own; the
restore rate is what the engine reports (restore_report.py), and one probe record proves the
store was restored.

Every phase launches its own engine instance and stops it (SIGTERM, then SIGKILL) before it
returns, whatever happens; a phase that cannot produce its figure raises ``PhaseFailed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import measure, restore_report
from benchmarks.admin import BenchAdmin, TopicRequest
from benchmarks.config import RunConfig, app_id
from benchmarks.data import KEY_COUNT, TICK_KEY, USER_ROWS, Dataset, Windows, key_of
from benchmarks.engines import marker
from benchmarks.engines.spec import WINDOWED, EngineSpec
from benchmarks.launchers import REPO, Launcher
from benchmarks.loader import LiveProducer, Ticker, prefill_changelog
from benchmarks.procs import EngineProcess

_POLL_S = 0.05
_STALL_S = 120.0
_STARTUP_TIMEOUT_S = 180.0
_LATENCY_TAIL_S = 15.0
_COOL_DOWN_MS = 1000


class PhaseFailed(Exception):
    pass


@dataclass(frozen=True)
class Context:
    config: RunConfig
    run_id: str
    admin: BenchAdmin
    dataset: Dataset
    scratch: Path

    def spec(self, engine: str, workload: str, guarantee: str, phase: str) -> EngineSpec:
        app = app_id(self.run_id, engine, workload, guarantee, phase)
        work = self.scratch / app.removeprefix(f"{self.run_id}-")
        work.mkdir(parents=True, exist_ok=True)
        own_input = phase.startswith(("lat", "restore"))  # empty topics of its own
        windows = self.dataset.windows
        preloaded = windows.topic if workload in WINDOWED and windows else self.dataset.topic
        joined = self.dataset.joined
        table = ""
        if workload == "w5" and joined is not None:
            preloaded, table = joined.views_topic, joined.users_topic
        return EngineSpec(
            workload=workload,
            guarantee=guarantee,
            bootstrap=self.config.bootstrap,
            app_id=app,
            input_topic=f"{app}-in" if own_input else preloaded,
            output_topic=f"{app}-out",
            commit_interval_ms=self.config.commit_interval_ms,
            state_dir=str(work / "state"),
            marker_path=str(work / "first-input"),
            table_topic=table,
        )

    def create_topics(
        self,
        launcher: Launcher,
        spec: EngineSpec,
        with_input: bool,
        extra: tuple[TopicRequest, ...] = (),
    ) -> None:
        parts = self.config.partitions
        wanted = [TopicRequest(spec.output_topic, parts), *extra]
        names = {t.name for t in wanted}
        wanted += [t for t in launcher.topics(spec, parts) if t.name not in names]
        if with_input:
            wanted.append(TopicRequest(spec.input_topic, parts))
        self.admin.create_topics(wanted)

    def start(self, launcher: Launcher, spec: EngineSpec, label: str) -> EngineProcess:
        log_dir = Path(spec.state_dir).parent / label
        proc = EngineProcess(launcher.argv(spec), launcher.env(spec), REPO, log_dir)
        proc.start()
        return proc


@dataclass(frozen=True)
class Throughput:
    records_per_s: float
    seconds: float
    peak_rss_mb: float  # the session's processes summed
    peak_rss_worker_mb: float  # the largest single process
    processes: int
    outputs: int  # output records visible when the engine was stopped
    notes: list[str]
    final_counts: dict[str, int] | None = None  # W5: the last count seen per region
    state: StateSize | None = None  # the state dir once the engine stopped (stateful runs)


@dataclass(frozen=True)
class StateSize:
    sst_bytes: int  # RocksDB's *.sst files under the state dir
    dir_bytes: int  # every file under it (WAL, logs, checkpoints, ...)
    keys: int  # the keys the stores hold at the end

    @property
    def sst_bytes_per_million_keys(self) -> float:
        return self.sst_bytes * 1_000_000 / self.keys


# the keys every store of a workload holds at the end of a throughput run
_STORED_KEYS = {"w2": KEY_COUNT, "w3": KEY_COUNT, "w5": USER_ROWS + 6}


def state_size(state_dir: str, workload: str) -> StateSize | None:
    """The bytes under ``state_dir`` (none for W1/W4, nor for an engine that keeps none)."""
    keys = _STORED_KEYS.get(workload)
    root = Path(state_dir)
    if keys is None or not root.is_dir():
        return None
    sst = total = 0
    for path in root.rglob("*"):
        if path.is_file():
            size = path.stat().st_size
            total += size
            if path.suffix == ".sst":
                sst += size
    return StateSize(sst, total, keys) if total else None


def _tracker(
    ctx: Context, spec: EngineSpec
) -> measure.CompletionTracker | measure.ClosedWindowsTracker:
    tick = TICK_KEY.encode()
    if spec.emit_on_close:
        return measure.ClosedWindowsTracker(_windows(ctx).windows, tick)
    # W2, W3 and W4 on update: the last count of every (windowed) key adds up to the input
    summing = spec.workload != "w1"
    target = ctx.dataset.records if summing else ctx.dataset.w1_outputs
    return measure.CompletionTracker(target, summing, tick if spec.windowed else None)


def _windows(ctx: Context) -> Windows:
    if ctx.dataset.windows is None:
        raise PhaseFailed("W4's timed input was not loaded")
    return ctx.dataset.windows


def throughput(ctx: Context, launcher: Launcher, spec: EngineSpec) -> Throughput:
    """Process the pre-loaded input; time first input consumed -> last output visible."""
    if spec.workload == "w5" and ctx.dataset.joined is None:
        raise PhaseFailed("W5's users and page views were not loaded")
    ctx.create_topics(launcher, spec, with_input=False)
    tracker = _tracker(ctx, spec)
    target = tracker.target
    deadline = time.monotonic() + ctx.config.timeout_s
    ticker = None
    if spec.emit_on_close:
        ticker = Ticker(ctx.config.bootstrap, _windows(ctx), ctx.config.partitions)
    with measure.OutputWatcher(ctx.config.bootstrap, spec.output_topic, tracker):
        proc = ctx.start(launcher, spec, "throughput")
        try:
            while tracker.done_at is None:
                _check_alive(proc)
                if ticker is not None and marker.read(spec.marker_path) is not None:
                    ticker.maybe_tick()
                now = time.monotonic()
                if now > deadline:
                    raise PhaseFailed(
                        f"timeout after {ctx.config.timeout_s:.0f}s at {tracker.progress}/{target}"
                    )
                last = tracker.last_seen_at or proc.started_at
                if time.time() - last > _STALL_S:
                    raise PhaseFailed(f"no new output for {_STALL_S:.0f}s at {tracker.progress}")
                time.sleep(_POLL_S)
        finally:
            proc.stop()
            if ticker is not None:
                ticker.close()
    first = marker.read(spec.marker_path)
    if first is None:
        raise PhaseFailed("the engine wrote no first-input marker")
    seconds = tracker.done_at - first
    notes = []
    if isinstance(tracker, measure.ClosedWindowsTracker):
        if tracker.count_sum != ctx.dataset.records:
            notes.append(f"the windows' counts add up to {tracker.count_sum}, not the input size")
        if tracker.repeated:
            notes.append(f"{tracker.repeated} windows came out more than once")
    final_counts = None
    joined = ctx.dataset.joined
    if spec.workload == "w5" and isinstance(tracker, measure.CompletionTracker) and joined:
        final_counts = {
            (k or b"").decode(errors="replace"): v for k, v in sorted(tracker.latest().items())
        }
        if final_counts != joined.region_counts:
            notes.append(f"final counts per region {final_counts} != the data's")
        else:
            notes.append(f"final counts of all {len(final_counts)} regions = the data's")
    return Throughput(
        ctx.dataset.records / seconds,
        seconds,
        proc.peak_rss_bytes / 2**20,
        proc.peak_process_rss_bytes / 2**20,
        len(proc.pids),
        tracker.messages,
        notes,
        final_counts,
        state_size(spec.state_dir, spec.workload),
    )


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    samples: int
    startup_s: float


def latency(ctx: Context, launcher: Launcher, spec: EngineSpec) -> Latency:
    """Fresh instance on empty topics: warm up, then produce at a fixed rate and time outputs."""
    ctx.create_topics(launcher, spec, with_input=True)
    tracker = measure.LatencyTracker()
    producer = LiveProducer(ctx.config.bootstrap, spec.input_topic)
    with measure.OutputWatcher(ctx.config.bootstrap, spec.output_topic, tracker):
        proc = ctx.start(launcher, spec, "latency")
        try:
            # One record every 200 ms until the first output shows the engine is up.
            while tracker.first_seen_at is None:
                _check_alive(proc)
                if time.time() - proc.started_at > _STARTUP_TIMEOUT_S:
                    raise PhaseFailed(f"no output within {_STARTUP_TIMEOUT_S:.0f}s of launch")
                producer.send()
                time.sleep(0.2)
            startup_s = tracker.first_seen_at - proc.started_at
            # The measured window has input at the same rate before it (warm-up) and after it
            # (cool-down): an engine that idles when its input stops is not measured idling.
            rate, seconds = ctx.config.latency_rate, ctx.config.latency_seconds
            producer.paced(rate, max(1.0, min(3.0, seconds / 5)))
            tracker.since_ms = time.time() * 1000.0
            tracker.until_ms = producer.paced(rate, seconds)
            cool_down_end = time.monotonic() + _LATENCY_TAIL_S
            while tracker.max_timestamp_ms < tracker.until_ms + _COOL_DOWN_MS:
                _check_alive(proc)
                if time.monotonic() > cool_down_end:
                    raise PhaseFailed("the measured window's output did not finish")
                producer.paced(rate, 0.2)
        finally:
            proc.stop()
    if not tracker.samples_ms:
        raise PhaseFailed("no output for the paced input")
    return Latency(
        measure.percentile(tracker.samples_ms, 0.50),
        measure.percentile(tracker.samples_ms, 0.99),
        len(tracker.samples_ms),
        startup_s,
    )


@dataclass(frozen=True)
class Restore:
    launch_to_probe_s: float  # launch -> the probe's output visible with the restored count
    reported: restore_report.Restored | None  # what the engine said of its restoration
    prefill_s: float


def restore(ctx: Context, launcher: Launcher, guarantee: str, probe: int) -> Restore:
    """W2 on a fresh app whose changelog holds ``--records`` records: launch a fresh
    instance (empty state dir, empty input), send one probe record for key ``probe`` and wait
    for its output, which must be the pre-filled count + 1."""
    spec = ctx.spec(launcher.name, "w2", guarantee, "restore")
    changelog = TopicRequest(spec.changelog_topic, ctx.config.partitions, compact=True)
    ctx.create_topics(launcher, spec, with_input=True, extra=(changelog,))
    counts, prefill_s = prefill_changelog(ctx.config.bootstrap, changelog.name, ctx.config.records)
    key = key_of(probe)
    expected = counts[probe] + 1
    tracker = measure.ProbeTracker(key.encode())
    # partitioned as the changelog was: the probe must reach the task that holds its key
    producer = LiveProducer(ctx.config.bootstrap, spec.input_topic, "murmur2_random")
    with measure.OutputWatcher(ctx.config.bootstrap, spec.output_topic, tracker):
        proc = ctx.start(launcher, spec, "restore")
        try:
            producer.send(probe)
            producer.flush()
            while tracker.seen_at is None:
                _check_alive(proc)
                if time.time() - proc.started_at > _STARTUP_TIMEOUT_S:
                    raise PhaseFailed(f"no probe output within {_STARTUP_TIMEOUT_S:.0f}s")
                time.sleep(_POLL_S)
        finally:
            proc.stop()
    if tracker.value != expected:
        raise PhaseFailed(f"store not restored: {key} counted {tracker.value}, expected {expected}")
    return Restore(tracker.seen_at - proc.started_at, restore_report.read(proc.log_dir), prefill_s)


def _check_alive(proc: EngineProcess) -> None:
    if proc.returncode is not None:
        raise PhaseFailed(proc.failure())
