"""Apps with error policies, run as real worker subprocesses by the dead-letter and
error-policy tests (``streamlet run apps_dlq:<factory>`` from the tests directory).

Configured by environment like ``apps.py``: APP_ID, BOOTSTRAP, GUARANTEE, COMMIT_MS,
STATE_DIR, CONFIG (``k=v,k=v`` raw librdkafka settings), plus POLICY
(``fail|continue|dead_letter``, default ``fail``) and the topics each factory names.

``mixed`` reads JSON_IN with ``serde.Json()`` and AVRO_IN with ``serde.Avro`` on
confluent_kafka's in-memory mock Schema Registry. The mock lives in the worker process, so
the factory registers :data:`AVRO_SCHEMA` itself at start-up and checks that it got
:data:`GOOD_SCHEMA_ID`; test producers write the Confluent wire format by hand with
:func:`avro_value` (that id for good records, :data:`UNKNOWN_SCHEMA_ID` for bad ones).
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Mapping
from typing import Any

import fastavro
from confluent_kafka.schema_registry import SchemaRegistryClient

import streamlet as sl
from streamlet import serde

from support import WorkerProcess

AVRO_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Reading",
    "namespace": "streamlet.tests",
    "fields": [{"name": "seq", "type": "long"}, {"name": "note", "type": "string"}],
}
GOOD_SCHEMA_ID = 1  # the mock registry numbers schemas from 1
UNKNOWN_SCHEMA_ID = 999
CHECKER = "checker"  # the processor ``checked`` names, which dead-letter headers carry
_PARSED = fastavro.parse_schema(AVRO_SCHEMA)


class DlqWorker(WorkerProcess):
    """``support.WorkerProcess`` running ``streamlet run apps_dlq:<factory>``."""

    module = "apps_dlq"


def json_value(seq: int) -> bytes:
    return json.dumps({"seq": seq}).encode()


def bad_json_value(seq: int) -> bytes:
    """Not JSON: cut off mid-object (odd seq) or not even UTF-8 (even seq)."""
    return f'{{"seq": {seq}, "note": '.encode() if seq % 2 else b'\xff{"seq": ' + str(seq).encode()


def avro_value(seq: int, schema_id: int = GOOD_SCHEMA_ID) -> bytes:
    """``{"seq": seq}`` in the Confluent wire format: 0x00, the schema id, the Avro body."""
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(out, _PARSED, {"seq": seq, "note": f"reading {seq}"})
    return out.getvalue()


def _policy(env: Mapping[str, str]) -> sl.ErrorPolicy:
    return sl.ErrorPolicy(env.get("POLICY", "fail"))


def _app(env: Mapping[str, str], errors: sl.ErrorPolicies) -> sl.App:
    config: dict[str, Any] = {}
    for pair in filter(None, env.get("CONFIG", "").split(",")):
        key, _, value = pair.partition("=")
        config[key] = value
    return sl.App(
        env["APP_ID"],
        bootstrap_servers=env["BOOTSTRAP"],
        processing_guarantee=env.get("GUARANTEE", "exactly_once_v2"),
        commit_interval_ms=int(env.get("COMMIT_MS", "100")),
        state_dir=env["STATE_DIR"],
        config=config,
        errors=errors,
    )


def build_mixed(env: Mapping[str, str]) -> sl.App:
    """JSON_IN and AVRO_IN, each ``map_values`` (``json-mark``/``avro-mark``) to OUT as
    ``{"src": "json"|"avro", "seq": n}``; POLICY applies to deserialization errors."""
    app = _app(env, sl.ErrorPolicies(deserialization=_policy(env)))
    json_in, avro_in, out = env["JSON_IN"], env["AVRO_IN"], env["OUT"]
    registry = SchemaRegistryClient.new_client({"url": f"mock://{env['APP_ID']}"})
    avro = serde.Avro(AVRO_SCHEMA, registry=registry)
    schema_id = avro.register(avro_in)
    if schema_id != GOOD_SCHEMA_ID:
        raise RuntimeError(f"the mock registry gave id {schema_id}, not {GOOD_SCHEMA_ID}")
    (
        app.stream(json_in, key_serde=serde.String(), value_serde=serde.Json())
        .map_values(lambda v: {"src": "json", "seq": v["seq"]}, name="json-mark")
        .to(out, value_serde=serde.Json())
    )
    (
        app.stream(avro_in, key_serde=serde.String(), value_serde=avro)
        .map_values(lambda v: {"src": "avro", "seq": v["seq"]}, name="avro-mark")
        .to(out, value_serde=serde.Json())
    )
    return app


def mixed() -> sl.App:
    return build_mixed(os.environ)


def build_checked(env: Mapping[str, str]) -> sl.App:
    """IN ``{"seq": n}`` through the ``checker`` map_values, which raises ValueError when
    ``n % BAD_MOD == BAD_REM``, to OUT; POLICY applies to processing errors."""
    app = _app(env, sl.ErrorPolicies(processing=_policy(env)))
    mod, rem = int(env["BAD_MOD"]), int(env["BAD_REM"])

    def check(value: dict[str, Any]) -> dict[str, Any]:
        if value["seq"] % mod == rem:
            raise ValueError(f"seq {value['seq']} is rejected")
        return {**value, "checked": True}

    (
        app.stream(env["IN"], key_serde=serde.String(), value_serde=serde.Json())
        .map_values(check, name=CHECKER)
        .to(env["OUT"])
    )
    return app


def checked() -> sl.App:
    return build_checked(os.environ)


def source_names(app: sl.App) -> dict[str, str]:
    """topic -> the name of the source node reading it (what dead-letter headers name)."""
    return {
        topic: node.name
        for sub in app.topology().subtopologies
        for node in sub.sources()
        for topic in node.topics
    }
