"""Avro apps on the real Schema Registry, run as worker subprocesses by the registry's end
to end and migration tests (``streamlet run apps_avro:<factory>`` from the tests directory).

Configured by environment like ``apps.py`` (APP_ID, IN, OUT, BOOTSTRAP, GUARANTEE,
COMMIT_MS, STATE_DIR, CONFIG) plus REGISTRY_URL (the Confluent-API base URL) and TALLY
(``v1`` or ``v2``: which version of the output schema the app writes).
"""

from __future__ import annotations

import os
from typing import Any

import streamlet as sl
from streamlet import serde
from streamlet.schema import Level

from apps import _app
from support import WorkerProcess

READING: dict[str, Any] = {
    "type": "record",
    "name": "Reading",
    "namespace": "streamlet.tests",
    "fields": [{"name": "seq", "type": "long"}, {"name": "note", "type": "string"}],
}
TALLY_V1: dict[str, Any] = {
    "type": "record",
    "name": "Tally",
    "namespace": "streamlet.tests",
    "fields": [
        {"name": "key", "type": "string"},
        {"name": "count", "type": "long"},
        {"name": "last_seq", "type": "long"},
    ],
}
# v2 adds a field with a default: FULL compatible with v1 (each reads the other's data)
TALLY_V2: dict[str, Any] = {
    **TALLY_V1,
    "fields": [
        *TALLY_V1["fields"],
        {"name": "guarantee", "type": "string", "default": "at_least_once"},
    ],
}


class AvroWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_avro:<factory>``."""

    module = "apps_avro"


def tally() -> sl.App:
    """IN (String keys, :data:`READING` values) -> a running tally per key in the store
    ``tallies`` -> OUT, each update a Tally (v1, or v2 naming the app's guarantee). Every
    Avro serde is under FULL on the registry; the output schema is registered at start-up."""
    app = _app()
    registry = os.environ["REGISTRY_URL"]
    v2 = os.environ.get("TALLY", "v1") == "v2"
    schema = TALLY_V2 if v2 else TALLY_V1
    guarantee = os.environ.get("GUARANTEE", "exactly_once_v2")
    readings = serde.Avro(READING, registry=registry, compatibility=Level.FULL)
    tallies = serde.Avro(schema, registry=registry, compatibility=Level.FULL)
    tallies.register(os.environ["OUT"])  # an incompatible schema fails here, not mid-stream

    def initial() -> dict[str, Any]:
        return {"key": "", "count": 0, "last_seq": -1}

    def add(key: str, reading: dict[str, Any], agg: dict[str, Any]) -> dict[str, Any]:
        out = {"key": key, "count": agg["count"] + 1, "last_seq": reading["seq"]}
        return {**out, "guarantee": guarantee} if v2 else out

    (
        app.stream(os.environ["IN"], key_serde=serde.String(), value_serde=readings)
        .group_by_key(value_serde=readings)
        .aggregate(initial, add, name="tallies", value_serde=tallies)
        .to_stream()
        .to(os.environ["OUT"], value_serde=tallies)
    )
    return app
