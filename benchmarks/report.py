"""The results as a printed table, a JSON file and a PNG bar chart."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from benchmarks.outcome import Outcome

_T = TypeVar("_T")
_COLUMNS = (
    ("engine", 14, "<"),
    ("workload", 8, "<"),
    ("guarantee", 13, "<"),
    ("records/s median (min-max)", 27, ">"),
    ("p50 ms", 7, ">"),
    ("p99 ms", 7, ">"),
    ("startup s", 9, ">"),
    ("restore s", 9, ">"),
    ("restore rec/s", 13, ">"),
    ("RSS MB", 6, ">"),
    ("1 proc MB", 9, ">"),
    ("outputs", 9, ">"),
    ("sst B/1M keys", 13, ">"),
)
_METRICS: tuple[tuple[str, str], ...] = (
    (
        "records_per_s",
        "throughput (records/s, median of the repeats, min-max bars; higher is better)",
    ),
    ("p99_ms", "p99 end-to-end latency (ms, lower is better)"),
    ("peak_rss_mb", "peak RSS of the engine's processes (MB)"),
)


def _fmt(value: float | None, digits: int = 1, empty: str = "-") -> str:
    if value is None:
        return empty
    return f"{value:,.0f}" if digits == 0 else f"{value:,.{digits}f}"


def _cells(row: Iterable[str]) -> str:
    # Not strict: a failed run's row has only its three leading cells.
    return "  ".join(
        f"{cell:{align}{width}}" for cell, (_, width, align) in zip(row, _COLUMNS, strict=False)
    )


def header_line() -> str:
    return _cells(name for name, _, _ in _COLUMNS)


def row_line(o: Outcome) -> str:
    lead = [o.engine, o.workload, o.guarantee]
    if o.failure is not None:
        return _cells(lead) + "  failed: " + o.failure
    latency_empty = "fail" if any(n.startswith("latency") for n in o.notes) else "-"
    restore_empty = "fail" if any(n.startswith("restore failed") for n in o.notes) else "-"
    return _cells(
        [
            *lead,
            _rate(o),
            _fmt(o.p50_ms, 1, latency_empty),
            _fmt(o.p99_ms, 1, latency_empty),
            _fmt(o.startup_s, 1, latency_empty),
            _fmt(o.restore_s, 1, restore_empty),
            _fmt(o.restore_records_per_s, 0, restore_empty),
            _fmt(o.peak_rss_mb, 0),
            _fmt(o.peak_rss_worker_mb, 0),
            _fmt(None if o.outputs is None else float(o.outputs), 0),
            _fmt(o.rocksdb_bytes_per_million_keys, 0),
        ]
    )


def _rate(o: Outcome) -> str:
    """``median (min-max)`` of the repeats; the median alone for a single run."""
    if o.records_per_s is None:
        return "-"
    if len(o.records_per_s_runs) < 2 or o.records_per_s_min is None or o.records_per_s_max is None:
        return f"{o.records_per_s:,.0f}"
    return f"{o.records_per_s:,.0f} ({o.records_per_s_min:,.0f}-{o.records_per_s_max:,.0f})"


def table(outcomes: list[Outcome]) -> str:
    lines = [header_line(), "-" * len(header_line())]
    lines += [row_line(o) for o in outcomes]
    notes = [f"  {o.engine} {o.workload} {o.guarantee}: {n}" for o in outcomes for n in o.notes]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


SCALING_NOTE = (
    "per core = records/s / min(workers, cpus). This host has {cpus} cores, shared with the "
    "broker and the harness: past {cpus} workers no core is added, so those rows show the "
    "cost of more processes on the same cores, not scaling"
)


def _workers(o: Outcome) -> int:
    return int(o.engine.rsplit("-", 1)[1])


def scaling_rows(outcomes: list[Outcome]) -> list[dict[str, object]]:
    cpus = os.cpu_count() or 1
    rows: list[dict[str, object]] = []
    for o in outcomes:
        workers = _workers(o)
        per_core = None if o.records_per_s is None else o.records_per_s / min(workers, cpus)
        rows.append(
            {
                "engine": o.engine,
                "workers": workers,
                "records_per_s": o.records_per_s,
                "records_per_s_min": o.records_per_s_min,
                "records_per_s_max": o.records_per_s_max,
                "records_per_s_runs": o.records_per_s_runs,
                "records_per_s_per_core": per_core,
                "peak_rss_mb": o.peak_rss_mb,
                "peak_rss_worker_mb": o.peak_rss_worker_mb,
                "failure": o.failure,
            }
        )
    return rows


def scaling_table(outcomes: list[Outcome]) -> str:
    cpus = os.cpu_count() or 1
    lines = [
        f"scaling: W2 exactly_once, streamlet workers on {cpus} cores",
        f"{'workers':>7}  {'records/s median (min-max)':>27}  {'per core':>9}  "
        f"{'RSS MB':>6}  {'1 proc MB':>9}",
    ]
    for row, o in zip(scaling_rows(outcomes), outcomes, strict=True):
        if o.failure is not None:
            lines.append(f"{row['workers']:>7}  failed: {o.failure}")
            continue
        per_core = row["records_per_s_per_core"]
        lines.append(
            f"{row['workers']:>7}  {_rate(o):>27}  "
            f"{_fmt(per_core if isinstance(per_core, float) else None, 0):>9}  "
            f"{_fmt(o.peak_rss_mb, 0):>6}  {_fmt(o.peak_rss_worker_mb, 0):>9}"
        )
    lines.append("  " + SCALING_NOTE.format(cpus=cpus))
    return "\n".join(lines)


def write_json(
    path: Path, meta: Mapping[str, object], outcomes: list[Outcome], scaling: list[Outcome]
) -> None:
    document: dict[str, object] = {**meta, "results": [asdict(o) for o in outcomes]}
    if scaling:
        cpus = os.cpu_count() or 1
        document["scaling"] = {
            "workload": "w2",
            "guarantee": "exactly_once",
            "cpus": cpus,
            "note": SCALING_NOTE.format(cpus=cpus),
            "rows": scaling_rows(scaling),
        }
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_chart(path: Path, title: str, outcomes: list[Outcome]) -> str | None:
    """Draw the chart (the medians); return why not when it cannot be drawn."""
    if not outcomes:
        return "no chart: no workload ran besides the scaling cell"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: matplotlib is not installed (the `bench` extra)"
    runs = _unique((o.workload, o.guarantee) for o in outcomes)
    engines = _unique(o.engine for o in outcomes)
    value: dict[tuple[str, str, str], Outcome] = {
        (o.engine, o.workload, o.guarantee): o for o in outcomes
    }
    width = 0.8 / len(engines)
    # a panel with no figure at all (latency, when only W4 ran) is left out
    metrics = [m for m in _METRICS if any(_metric(o, m[0]) for o in outcomes)] or [_METRICS[0]]
    fig, axes = plt.subplots(
        len(metrics), 1, figsize=(max(8.0, 1.5 * len(runs) + 3), 11), squeeze=False
    )
    for ax, (attr, label) in zip(axes[:, 0], metrics, strict=True):
        for i, engine in enumerate(engines):
            cells = [value.get((engine, w, g)) for w, g in runs]
            heights = [_metric(o, attr) for o in cells]
            xs = [x + i * width for x in range(len(runs))]
            if attr == "records_per_s":
                low = [
                    h - (_metric(o, "records_per_s_min") or h)
                    for o, h in zip(cells, heights, strict=True)
                ]
                high = [
                    (_metric(o, "records_per_s_max") or h) - h
                    for o, h in zip(cells, heights, strict=True)
                ]
                ax.bar(xs, heights, width, label=engine, yerr=[low, high], capsize=2)
            else:
                ax.bar(xs, heights, width, label=engine)
        centre = width * (len(engines) - 1) / 2
        ax.set_xticks([x + centre for x in range(len(runs))], [f"{w}\n{g}" for w, g in runs])
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8, ncols=min(len(engines), 5))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _metric(outcome: Outcome | None, attr: str) -> float:
    if outcome is None or outcome.failure is not None:
        return 0.0
    got: float | None = getattr(outcome, attr)
    return got or 0.0


def _unique(items: Iterable[_T]) -> list[_T]:
    seen: list[_T] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
