"""The streamlet apps for W1-W5, written only against streamlet's public API.

The harness runs them as ``streamlet run benchmarks.engines.streamlet_app:from_env --workers N``
(``from_env`` is a zero-argument factory that reads the ``BENCH_*`` environment, see spec.py);
``python -m benchmarks.engines.streamlet_app`` runs one in the current process instead.
The factories ``w1``, ``w2`` and ``w3`` build one workload regardless of ``BENCH_WORKLOAD``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import streamlet as sl
from benchmarks.engines.logic import enrich, keep, regroup
from benchmarks.engines.marker import FirstInputMarker
from benchmarks.engines.spec import (
    GRACE_MS,
    REGION_REPARTITION_NAME,
    REPARTITION_NAME,
    STORE_NAME,
    USERS_STORE_NAME,
    WINDOW_MS,
    EngineSpec,
)
from streamlet import serde

KS_CACHE_BYTES = 10 * 1024 * 1024
_GUARANTEES = {"exactly_once": "exactly_once_v2", "at_least_once": "at_least_once"}


def build(spec: EngineSpec) -> sl.App:
    """The app for ``spec``: one workload, one guarantee, one commit interval."""
    app = sl.App(
        spec.app_id,
        bootstrap_servers=spec.bootstrap,
        processing_guarantee=_GUARANTEES[spec.guarantee],
        commit_interval_ms=spec.commit_interval_ms,
        state_dir=spec.state_dir,
        # the record cache (App(cache_max_bytes=)): Kafka Streams' default size (10 MiB,
        # statestore.cache.max.bytes), which its peer runs with, unless
        # BENCH_STREAMLET_CACHE_BYTES says otherwise (0: off, streamlet's own default)
        cache_max_bytes=int(os.environ.get("BENCH_STREAMLET_CACHE_BYTES", str(KS_CACHE_BYTES))),
    )
    mark = FirstInputMarker(spec.marker_path)
    records = app.stream(spec.input_topic, key_serde=serde.String(), value_serde=serde.Json())

    if spec.workload == "w1":

        def marked_keep(_key: str, value: dict[str, Any]) -> bool:
            mark()
            return keep(value)

        records.filter(marked_keep).map_values(enrich).to(spec.output_topic)
        return app

    if spec.windowed:
        emit = sl.Emit.ON_WINDOW_CLOSE if spec.emit_on_close else sl.Emit.ON_WINDOW_UPDATE
        windows = sl.TumblingWindows(size_ms=WINDOW_MS, grace_ms=GRACE_MS)
        per_minute = records.peek(mark).group_by_key().windowed_by(windows, emit=emit)
        per_minute.count(name=STORE_NAME).to_stream().to(
            spec.output_topic, key_serde=serde.Windowed(serde.String()), value_serde=serde.Int64()
        )
        return app

    if spec.workload == "w5":
        # the page views are keyed by user and co-partitioned with the users (data.py)
        users = app.table(
            spec.table_topic,
            name=USERS_STORE_NAME,
            key_serde=serde.String(),
            value_serde=serde.Json(),
        )

        def region(view: dict[str, Any], user: dict[str, Any]) -> str:
            return str(user["region"])

        by_region = (
            records.peek(mark)
            .join(users, region)
            .group_by(
                lambda _user, region: region,
                name=REGION_REPARTITION_NAME,
                key_serde=serde.String(),
                value_serde=serde.String(),
            )
        )
        by_region.count(name=STORE_NAME).to_stream().to(
            spec.output_topic, value_serde=serde.Int64()
        )
        return app

    if spec.workload == "w2":
        grouped = records.peek(mark).group_by_key()
    else:

        def marked_regroup(_key: str, value: dict[str, Any]) -> str:
            mark()
            return regroup(value)

        # String keys through the repartition topic, as the Kafka Streams peer's Grouped
        grouped = records.group_by(marked_regroup, name=REPARTITION_NAME, key_serde=serde.String())
    counts = grouped.count(name=STORE_NAME)
    counts.to_stream().to(spec.output_topic, value_serde=serde.Int64())
    return app


def from_env() -> sl.App:
    return build(EngineSpec.from_env())


def w1() -> sl.App:
    return build(replace(EngineSpec.from_env(), workload="w1"))


def w2() -> sl.App:
    return build(replace(EngineSpec.from_env(), workload="w2"))


def w3() -> sl.App:
    return build(replace(EngineSpec.from_env(), workload="w3"))


def main() -> None:
    from_env().run()


if __name__ == "__main__":
    main()
