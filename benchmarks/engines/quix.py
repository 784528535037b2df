"""The Quix Streams peer: W1/W2/W3 written the way Quix Streams' documentation writes them.

Runs in its own virtualenv (``benchmarks/.venv-quix``, created by the harness) because Quix
Streams pins its own confluent-kafka. One ``Application`` per process; Quix processes one
partition assignment in one thread, like one Kafka Streams stream thread.

Run: ``benchmarks/.venv-quix/bin/python -m benchmarks.engines.quix`` with the ``BENCH_*``
environment (see spec.py).
"""

from __future__ import annotations

from typing import Any

from quixstreams import Application, State  # type: ignore[import-not-found]

from benchmarks.engines.logic import enrich, keep, regroup
from benchmarks.engines.marker import FirstInputMarker
from benchmarks.engines.spec import REPARTITION_NAME, EngineSpec

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


def main() -> None:
    build(EngineSpec.from_env()).run()


if __name__ == "__main__":
    main()
