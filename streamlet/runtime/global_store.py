"""``GlobalStore``: one global table's local copy, updated from records of its topic.

The same object serves the worker (over RocksDB, fed by ``GlobalTables``) and the
TopologyTestDriver (over memory, fed one piped record at a time). Records are written
straight to the backend: a global store is not part of any task's transaction, its topic
is its log, and re-reading that topic from an older offset rebuilds the same state.

Per record: a bad key or value follows the deserialization policy, located by topic,
partition and offset (FAIL raises; CONTINUE skips; DEAD_LETTER copies the record to the
dead-letter topic); a null key is skipped and counted, as Kafka Streams does; a null value
deletes the key. Keys are stored re-serialized, so that a join's lookup (the mapped key
serialized by the same serde) finds them whatever bytes the producer wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from streamlet.config import ErrorPolicies, ErrorPolicy
from streamlet.errors import SerializationError
from streamlet.runtime.deadletter import dead_letter_headers
from streamlet.runtime.userfn import Produce
from streamlet.state import BufferedStore, BytesStore, KeyValueStore
from streamlet.topology.global_nodes import GlobalTableSpec

log = logging.getLogger(__name__)


class GlobalStore:
    """``spec``'s records applied to ``backend``; ``view`` is what joins read."""

    def __init__(
        self,
        spec: GlobalTableSpec,
        backend: BytesStore,
        errors: ErrorPolicies,
        dead_letter_topic: str,
        produce_dead_letter: Produce,
        clock: Callable[[], int],
    ) -> None:
        self.spec = spec
        self.backend = backend
        # no writes are ever buffered in front of the backend: reads go straight through
        self.view: KeyValueStore[Any, Any] = KeyValueStore(
            BufferedStore(backend), spec.key_serde, spec.value_serde
        )
        self._policy = errors.deserialization
        self._dlq = dead_letter_topic
        self._produce = produce_dead_letter
        self._clock = clock
        self.skipped = 0  # by the deserialization policy
        self.null_keys = 0

    def process(self, msg: Any) -> None:
        """Apply one record (the driver's entry point, as ``Task.process``)."""
        self.apply([msg])

    def apply(self, msgs: Iterable[Any]) -> None:
        """Apply records of the topic, in order, in one batch; the policy's error (FAIL)
        leaves the whole batch unwritten."""
        spec, name = self.spec, self.spec.name
        key_de, value_de = spec.key_serde.deserialize, spec.value_serde.deserialize
        key_ser = spec.key_serde.serialize
        writes: dict[bytes, bytes | None] = {}
        for msg in msgs:
            topic, raw_value = msg.topic(), msg.value()
            try:
                key = key_de(topic, msg.key())
                if raw_value is not None:
                    value_de(topic, raw_value)  # a value no join could read never enters
                key_bytes = None if key is None else key_ser(name, key)
            except SerializationError as exc:
                self._reject(msg, exc)
                continue
            if key_bytes is None:
                self.null_keys += 1
                log.warning(
                    "global table %s: skipping a record with a null key [topic=%s "
                    "partition=%d offset=%d]",
                    name,
                    topic,
                    msg.partition(),
                    msg.offset(),
                )
                continue
            writes[key_bytes] = raw_value
        if writes:
            self.backend.write_batch(writes, None)

    def _reject(self, msg: Any, exc: SerializationError) -> None:
        exc.topic, exc.partition, exc.offset = msg.topic(), msg.partition(), msg.offset()
        exc.message = f"global table {self.spec.name!r}: {exc.message}"
        if self._policy is ErrorPolicy.FAIL:
            raise exc
        self.skipped += 1
        if self._policy is ErrorPolicy.CONTINUE:
            log.warning("skipping record (policy CONTINUE): %s", exc)
            return
        headers = dead_letter_headers(exc, msg, f"{self.spec.name}-global-source")
        headers += list(msg.headers() or ())
        self._produce(self._dlq, msg.key(), msg.value(), -1, self._clock(), headers)
