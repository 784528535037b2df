"""A global-table app run as real worker subprocesses (``streamlet run apps_global:enrich``).

Configured by environment like ``apps.py``; IN holds orders ``{"user": id, "n": int}``,
USERS the global table of user names, OUT the orders left-joined with the names.
"""

from __future__ import annotations

import os
from typing import Any

from streamlet import App, serde

from apps import _app
from support import WorkerProcess


class GlobalWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_global:<factory>``."""

    module = "apps_global"


def enrich() -> App:
    """Each order with the name of its user (None if the global table has none), and the
    pid of the worker process that joined it."""
    app = _app()
    s, j = serde.String(), serde.Json()
    users = app.global_table(os.environ["USERS"], name="users", key_serde=s, value_serde=s)

    def joined(order: dict[str, Any], name: str | None) -> dict[str, Any]:
        return {**order, "name": name, "by": os.getpid()}

    app.stream(os.environ["IN"], key_serde=s, value_serde=j).left_join(
        users, joined, key_mapper=lambda _k, order: order["user"], name="enrich"
    ).to(os.environ["OUT"], value_serde=j)
    return app
