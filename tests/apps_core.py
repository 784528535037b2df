"""Apps run as real worker subprocesses by the runtime-defect tests (issue 10, core).

Configured by environment like ``apps.py``: APP_ID, IN, OUT, BOOTSTRAP, GUARANTEE,
COMMIT_MS, STATE_DIR, CONFIG. Run with ``streamlet run apps_core:<factory>``.
"""

from __future__ import annotations

import os

import streamlet as sl
from streamlet import serde

from apps import _app
from support import WorkerProcess


class CoreWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_core:<factory>``."""

    module = "apps_core"


class _Ticker:
    """Counts wall-clock ticks in the store ``ticks`` (key ``n``) with no input needed; each
    input record is answered with the count it finds."""

    def init(self, ctx: sl.ProcessorContext) -> None:
        self.ctx = ctx
        self.store = ctx.store("ticks")
        ctx.schedule(int(os.environ.get("TICK_MS", "50")), "wall_clock", self._tick)

    def _tick(self, _now: int) -> None:
        self.store.put("n", (self.store.get("n") or 0) + 1)

    def process(self, record: sl.Record) -> None:
        self.ctx.forward(record.with_value(self.store.get("n") or 0))

    def close(self) -> None:
        pass


def ticker() -> sl.App:
    """A wall-clock punctuator that only writes a store (defect 1)."""
    app = _app()
    app.store("ticks", key_serde=serde.String(), value_serde=serde.Int64())
    (
        app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.String())
        .process(_Ticker, stores=("ticks",), name="ticker")
        .to(os.environ["OUT"], key_serde=serde.String(), value_serde=serde.Int64())
    )
    return app


def echo_policy() -> sl.App:
    """IN (JSON) to OUT unchanged; POLICY (``fail|continue|dead_letter``) is the production
    policy, for records the broker rejects (OUT with a small ``max.message.bytes``)."""
    from apps_dlq import _app as _policy_app
    from apps_dlq import _policy

    app = _policy_app(os.environ, sl.ErrorPolicies(production=_policy(os.environ)))
    (
        app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=serde.Json())
        .map_values(lambda v: {**v, "echo": True})
        .to(os.environ["OUT"])
    )
    return app
