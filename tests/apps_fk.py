"""The foreign-key join app run as a real worker subprocess by the FK join chaos test.

Configured by environment like ``apps.py`` (APP_ID, IN = the orders topic, OUT, BOOTSTRAP,
COMMIT_MS, STATE_DIR, CONFIG) plus RIGHT (the customers topic). Run with
``streamlet run apps_fk:fk_join``. ``expected_fk_join`` is what it must converge to.
"""

from __future__ import annotations

import os
from typing import Any

import streamlet as sl
from streamlet import serde

from apps import _app
from support import WorkerProcess


class FkWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_fk:<factory>``."""

    module = "apps_fk"


def enrich(order: dict[str, Any], customer: str) -> dict[str, Any]:
    return {"n": order["n"], "customer": order["customer"], "name": customer}


def fk_join() -> sl.App:
    """Orders (IN: key order id, value ``{"customer": id | None, "n": int}``) inner-joined
    by foreign key with customers (RIGHT: key customer id, value a name) -> OUT."""
    app = _app()
    orders = app.table(
        os.environ["IN"], name="orders", key_serde=serde.String(), value_serde=serde.Json()
    )
    customers = app.table(
        os.environ["RIGHT"], name="customers", key_serde=serde.String(), value_serde=serde.String()
    )
    joined = orders.join(
        customers, enrich, foreign_key=lambda order: order["customer"], name="order-customer"
    )
    joined.to_stream().to(os.environ["OUT"])
    return app


def expected_fk_join(orders: dict[str, Any], customers: dict[str, str]) -> dict[str, Any]:
    """The inner foreign-key join of the final rows of both tables."""
    out = {}
    for key, order in orders.items():
        name = customers.get(order["customer"]) if order["customer"] is not None else None
        if name is not None:
            out[key] = enrich(order, name)
    return out
