"""The Quix Streams peer: W1-W5 written the way Quix Streams' documentation writes them.

W4 is ``tumbling_window(60 s, grace 5 s).count()`` with ``.final(closing_strategy=
"partition")`` (emit on close) or ``.current()`` (emit on update). ``final()``'s default
closing strategy, ``"key"``, closes a key's windows only when a later record of that same key
arrives, so each key's last windows would never come out; ``"partition"`` closes them when the
partition's stream time passes ``end + grace``, as Kafka Streams and streamlet do, so every
engine emits the same windows. Quix keeps the input key on a window's result and puts the
window in the value; the output is rewritten to the layout the other engines write (key:
the input key's bytes then the window start as 8 bytes big-endian, Kafka Streams'
``TimeWindowedSerializer``; value: the count as 8 bytes big-endian).

Runs in its own virtualenv (``benchmarks/.venv-quix``, created by the harness) because Quix
Streams pins its own confluent-kafka. One ``Application`` per process; Quix processes one
partition assignment in one thread, like one Kafka Streams stream thread.

Run: ``benchmarks/.venv-quix/bin/python -m benchmarks.engines.quix`` with the ``BENCH_*``
environment (see spec.py).
"""

from __future__ import annotations

from typing import Any

from quixstreams import Application, State  # type: ignore[import-not-found]
from quixstreams.models.serializers import Serializer  # type: ignore[import-not-found]

from benchmarks.engines.logic import enrich, keep, regroup
from benchmarks.engines.marker import FirstInputMarker
from benchmarks.engines.spec import (
    GRACE_MS,
    REGION_REPARTITION_NAME,
    REPARTITION_NAME,
    WINDOW_MS,
    EngineSpec,
)

_GUARANTEES = {"exactly_once": "exactly-once", "at_least_once": "at-least-once"}


def build(spec: EngineSpec) -> Application:
    app = Application(
        broker_address=spec.bootstrap,
        consumer_group=spec.app_id,
        processing_guarantee=_GUARANTEES[spec.guarantee],
        commit_interval=spec.commit_interval_ms / 1000.0,
        state_dir=spec.state_dir,
        auto_offset_reset="earliest",
        loglevel="WARNING",
    )
    mark = FirstInputMarker(spec.marker_path)
    source = app.topic(spec.input_topic, key_deserializer="string", value_deserializer="json")
    sdf = app.dataframe(source)

    if spec.workload == "w1":

        def marked_keep(value: dict[str, Any]) -> bool:
            mark()
            return keep(value)

        sdf = sdf.filter(marked_keep).apply(enrich)
        sdf.to_topic(app.topic(spec.output_topic, key_serializer="string", value_serializer="json"))
        return app

    if spec.windowed:
        _windowed_count(app, spec, sdf, mark)
        return app

    if spec.workload == "w5":
        sdf = _joined_regions(app, spec, sdf, mark)

    if spec.workload == "w3":

        def marked_regroup(value: dict[str, Any]) -> str:
            mark()
            return regroup(value)

        sdf = sdf.group_by(
            marked_regroup,
            name=REPARTITION_NAME,
            key_serializer="string",
            key_deserializer="string",
        )

    def count(_value: dict[str, Any], state: State) -> int:
        mark()
        total: int = state.get("count", 0) + 1
        state.set("count", total)
        return total

    sdf = sdf.apply(count, stateful=True)
    sdf.to_topic(app.topic(spec.output_topic, key_serializer="string", value_serializer="int"))
    return app


def _joined_regions(app: Application, spec: EngineSpec, sdf: Any, mark: Any) -> Any:
    """W5's join: ``join_asof``, Quix Streams' stream-to-"table" join (the latest users row
    with a timestamp at or before the page view's), inner like the others; then re-keyed by
    region. The app's consumer takes co-partitioned partitions in timestamp order
    (``max_partition_buffer_size``), so the users rows, an hour older, come first."""
    users = app.dataframe(
        app.topic(spec.table_topic, key_deserializer="string", value_deserializer="json")
    )

    def marked(_value: dict[str, Any]) -> None:
        mark()

    def region(_view: dict[str, Any], user: dict[str, Any]) -> str:
        return str(user["region"])

    joined = sdf.update(marked).join_asof(users, how="inner", on_merge=region)
    return joined.group_by(
        lambda r: r,
        name=REGION_REPARTITION_NAME,
        key_serializer="string",
        key_deserializer="string",
    )


class _CountOfPair(Serializer):  # type: ignore[misc]
    """Writes the count of a ``(windowed key, count)`` pair; ``to_topic(key=...)`` the key."""

    def __call__(self, value: tuple[bytes, int], ctx: Any) -> bytes:
        return value[1].to_bytes(8, "big", signed=True)


def _windowed_count(app: Application, spec: EngineSpec, sdf: Any, mark: Any) -> None:
    def marked(value: dict[str, Any]) -> None:
        mark()

    sdf = sdf.update(marked)
    counts = sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=GRACE_MS).count()
    sdf = counts.final(closing_strategy="partition") if spec.emit_on_close else counts.current()

    def pair(window: dict[str, Any], key: str, _ts: int, _headers: Any) -> tuple[bytes, int]:
        return key.encode() + window["start"].to_bytes(8, "big", signed=True), window["value"]

    out = app.topic(spec.output_topic, key_serializer="bytes", value_serializer=_CountOfPair())
    sdf.apply(pair, metadata=True).to_topic(out, key=lambda kv: kv[0])


def main() -> None:
    build(EngineSpec.from_env()).run()


if __name__ == "__main__":
    main()
