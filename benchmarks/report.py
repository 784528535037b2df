"""The results as a printed table, a JSON file and a PNG bar chart."""

from __future__ import annotations

import json
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
    ("records/s", 11, ">"),
    ("p50 ms", 8, ">"),
    ("p99 ms", 8, ">"),
    ("startup s", 9, ">"),
    ("restore s", 9, ">"),
    ("peak RSS MB", 11, ">"),
    ("outputs", 9, ">"),
)
_METRICS: tuple[tuple[str, str], ...] = (
    ("records_per_s", "throughput (records/s, higher is better)"),
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
    restore_empty = "fail" if any(n.startswith("restore") for n in o.notes) else "-"
    return _cells(
        [
            *lead,
            _fmt(o.records_per_s, 0),
            _fmt(o.p50_ms, 1, latency_empty),
            _fmt(o.p99_ms, 1, latency_empty),
            _fmt(o.startup_s, 1, latency_empty),
            _fmt(o.restore_s, 1, restore_empty),
            _fmt(o.peak_rss_mb, 0),
            _fmt(None if o.outputs is None else float(o.outputs), 0),
        ]
    )


def table(outcomes: list[Outcome]) -> str:
    lines = [header_line(), "-" * len(header_line())]
    lines += [row_line(o) for o in outcomes]
    notes = [f"  {o.engine} {o.workload} {o.guarantee}: {n}" for o in outcomes for n in o.notes]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def write_json(path: Path, meta: Mapping[str, object], outcomes: list[Outcome]) -> None:
    document = {**meta, "results": [asdict(o) for o in outcomes]}
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_chart(path: Path, title: str, outcomes: list[Outcome]) -> str | None:
    """Draw the chart; return why not when it cannot be drawn."""
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
            heights = [_metric(value.get((engine, w, g)), attr) for w, g in runs]
            xs = [x + i * width for x in range(len(runs))]
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
