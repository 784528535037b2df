"""The group consumer's errors, in streamlet's error tree.

librdkafka hands a fatal consumer error to the application as a message error with the code
``_FATAL`` (and ``fatal()`` false); the original code survives only in its text. The one a
worker must tell apart is ``FENCED_INSTANCE_ID``: under static membership another live
process joined with this worker's ``group.instance.id`` (its identity), so the worker stops
as fenced, which no restart cures. Any other fatal error stops it as restartable: a new
process brings a new consumer.
"""

from __future__ import annotations

from confluent_kafka import KafkaError

from streamlet.errors import InstanceFencedError, StreamletError

# librdkafka's own text for the code, as it appears inside a _FATAL error's text
_INSTANCE_FENCED = KafkaError(KafkaError.FENCED_INSTANCE_ID).str()


def consumer_failure(err: KafkaError) -> StreamletError | None:
    """What a consumer error means for the worker: the error to stop with, or None for one
    that is no reason to stop (end of partition, or one librdkafka retries itself)."""
    code = err.code()
    if code == KafkaError._PARTITION_EOF:
        return None
    if code == KafkaError.FENCED_INSTANCE_ID or (
        code == KafkaError._FATAL and _INSTANCE_FENCED in err.str()
    ):
        return InstanceFencedError(
            f"fenced as a static group member: another process joined the group with this "
            f"worker's group.instance.id and owns its partitions now ({err.str()})"
        )
    if err.fatal() or code == KafkaError._FATAL:
        # not the producer's fault: re-creating it cures nothing; stop (a supervisor's
        # restart brings a new consumer)
        return StreamletError(
            f"consumer fatal error: {err.str()} (code {err.name()}); the worker stops"
        )
    return None
