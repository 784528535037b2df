"""Stream-stream join apps run as real worker subprocesses by the join chaos test.

Configured by environment like ``apps.py`` (APP_ID, IN = the left topic, OUT, BOOTSTRAP,
COMMIT_MS, STATE_DIR, CONFIG) plus RIGHT (the right topic), DIFF_MS and GRACE_MS. Run with
``streamlet run apps_join:<factory>``. ``expected_outer`` is what ``outer_join`` must output.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

import streamlet as sl
from streamlet import serde

from apps import _app
from support import WorkerProcess


class JoinWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_join:<factory>``."""

    module = "apps_join"


def show(left: str | None, right: str | None) -> str:
    """``"L1+R7"``; ``null`` for the missing side of an unmatched record."""
    return f"{left or 'null'}+{right or 'null'}"


def outer_join() -> sl.App:
    """IN outer-joined with RIGHT (String keys and values) -> OUT, values as ``show`` writes."""
    app = _app()
    windows = sl.JoinWindows(int(os.environ["DIFF_MS"]), grace_ms=int(os.environ["GRACE_MS"]))
    left = app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.String())
    right = app.stream(os.environ["RIGHT"], key_serde=serde.String(), value_serde=serde.String())
    joined = left.outer_join(right, show, windows=windows, name="orders-payments")
    joined.to(os.environ["OUT"], value_serde=serde.String())
    return app


# -- what the app must output -------------------------------------------------------------
# For inputs whose disorder stays within the grace, the outer join's result is a function of
# the records alone, whatever order a task processed them in.

Rec = tuple[str, str, int]  # (key, value, timestamp)


def expected_outer(left: Iterable[Rec], right: Iterable[Rec], diff_ms: int) -> Counter[Rec]:
    """``(key, "l+r", max timestamp)`` for each pair of the same key at most ``diff_ms``
    apart, and ``(key, "l+null" / "null+r", timestamp)`` for each record without one."""
    by_key: dict[str, list[tuple[str, int]]] = {}
    for key, value, ts in right:
        by_key.setdefault(key, []).append((value, ts))
    out: Counter[Rec] = Counter()
    matched: set[tuple[str, str, int]] = set()
    for key, lv, lt in left:
        found = False
        for rv, rt in by_key.get(key, ()):
            if abs(lt - rt) <= diff_ms:
                out[key, f"{lv}+{rv}", max(lt, rt)] += 1
                matched.add((key, rv, rt))
                found = True
        if not found:
            out[key, f"{lv}+null", lt] += 1
    for key, rows in by_key.items():
        for rv, rt in rows:
            if (key, rv, rt) not in matched:
                out[key, f"null+{rv}", rt] += 1
    return out
