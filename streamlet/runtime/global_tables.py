"""``GlobalTables``: a worker's own copy of every global table, loaded and kept current.

As Kafka Streams' global thread, but on the worker's thread: one assign-only consumer (no
group, read_committed) reads every partition of every global topic. ``bootstrap()`` reads
each to the end seen when it started — the *high watermark*, which a read_committed
position passes only once every record below it is decided, so an open transaction holds
the load back rather than ending it early — before the worker subscribes, so no task runs
against a partial table. ``poll()`` then applies what has arrived, without waiting, once
per loop iteration.

Stores live in ``<app dir>/global/worker-<index>/<name>``: every worker, even of one
process tree, holds its own copy. The offsets a store reflects are checkpointed beside it
(``streamlet.checkpoint``), always *after* a flush of the store, so the data on disk is at
least as new as the checkpoint and a restart reads only what is newer (re-applying a few
records is harmless: the latest value per key wins either way). No checkpoint, a wiped
directory, or a checkpoint beyond the topic's end (the topic was recreated) reloads all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from streamlet.config import AppConfig
from streamlet.errors import (
    ProductionError,
    StateError,
    StoreLockedError,
    StreamletError,
    TopicError,
)
from streamlet.kafka.admin import Admin
from streamlet.kafka.clients import producer_config, restore_consumer_config
from streamlet.kafka.retry import retry_transient
from streamlet.runtime.global_store import GlobalStore
from streamlet.runtime.identity import WorkerIdentity
from streamlet.runtime.metrics import WorkerMetrics
from streamlet.runtime.restore import high_watermarks
from streamlet.state import KeyValueStore, RocksDBStore
from streamlet.topology.global_nodes import GlobalTableSpec
from streamlet.topology.topology import Topology

log = logging.getLogger(__name__)

CHECKPOINT = "streamlet.checkpoint"
_BOOTSTRAP_BATCH = 10_000
_POLL_BATCH = 1_000  # bounds the time one loop iteration spends on updates
_CHECKPOINT_S = 10.0
_STALL_S = 120.0


class GlobalTables:
    """One worker's copy of every global table of ``topology``, in its own directory; a
    no-op when the topology has none."""

    def __init__(
        self,
        topology: Topology,
        cfg: AppConfig,
        identity: WorkerIdentity,
        admin: Admin,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        """``metrics.restored(store, records)`` hears of each batch the bootstrap applies."""
        self._cfg = cfg
        self._on_loaded = None if metrics is None else metrics.restored
        self._admin = admin
        self._dir = identity.app_dir / "global" / f"worker-{identity.index}"
        self._dead_letters = _DeadLetters(cfg)
        self._stores: dict[str, GlobalStore] = {}  # by topic
        self._next: dict[tuple[str, int], int] = {}  # the offset each partition resumes at
        self._consumer: Consumer | None = None
        self._next_checkpoint = 0.0
        self._dirty = False
        try:
            for spec in topology.global_tables.values():
                self._stores[spec.topic] = self._open(spec)
        except BaseException:
            self.close()
            raise

    @property
    def views(self) -> dict[str, KeyValueStore[Any, Any]]:
        """Store name -> the typed view joins read."""
        return {s.spec.name: s.view for s in self._stores.values()}

    # -- lifecycle ----------------------------------------------------------------------
    def bootstrap(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Load every table to the end of its topic (see the module docstring); on failure
        close everything (the worker never reaches its own shutdown)."""
        if not self._stores:
            return
        try:
            self._load(stopping)
        except BaseException:
            self.close()
            raise

    def _load(self, stopping: Callable[[], bool]) -> None:
        started = time.monotonic()
        partitions = self._partitions()
        ends = high_watermarks(self._admin.client, partitions)
        consumer = self._consumer = Consumer(_consumer_config(self._cfg))
        assignment = []
        for topic, store in list(self._stores.items()):
            mine = [(t, p) for t, p in partitions if t == topic]
            saved = _read_checkpoint(store.backend)
            beyond = any(saved.get(p, 0) > ends[(t, p)] for t, p in mine)
            if beyond:
                log.warning(
                    "global table %s: checkpoint %s lies beyond the end of %s %s (topic "
                    "recreated?): reloading it from the beginning",
                    store.spec.name,
                    saved,
                    topic,
                    {p: ends[(t, p)] for t, p in mine},
                )
            if beyond or not saved:
                # no checkpoint: whatever a crash left on disk may hold keys whose
                # tombstones compaction has since removed; start empty
                store = self._stores[topic] = self._open(store.spec, wipe=True)
                saved = {}
            for t, p in mine:
                low = _low_watermark(consumer, t, p)
                start = self._next[(t, p)] = max(saved.get(p, low), low)
                assignment.append(TopicPartition(t, p, start))
        consumer.assign(assignment)
        todo = {tp: end for tp, end in ends.items() if self._next.get(tp, 0) < end}
        log.info(
            "loading global tables %s: %d partitions, up to %d records",
            sorted(s.spec.name for s in self._stores.values()),
            len(todo),
            sum(end - self._next.get(tp, 0) for tp, end in todo.items()),
        )
        total, last_progress = 0, time.monotonic()
        while todo and not stopping():
            batch: list[Any] = consumer.consume(num_messages=_BOOTSTRAP_BATCH, timeout=0.2)
            applied = self._apply(batch, self._on_loaded)
            total += applied
            now = time.monotonic()
            if applied:
                last_progress = now
            for tp in consumer.position([TopicPartition(t, p) for t, p in todo]):
                key = (tp.topic, tp.partition)
                # the position passes markers and aborted records once they are decided
                if tp.offset >= todo[key] or self._next.get(key, 0) >= todo[key]:
                    self._next[key] = max(self._next.get(key, 0), tp.offset)
                    del todo[key]
            if todo and now - last_progress > _STALL_S:
                raise StateError(
                    f"loading global tables made no progress for {_STALL_S:.0f} s on "
                    f"{sorted(todo)} (an open transaction holding the last stable offset?)"
                )
        self.checkpoint()
        seconds = time.monotonic() - started
        log.info(
            "global tables loaded: %d records in %.2f s (%.0f records/s)",
            total,
            seconds,
            total / max(seconds, 1e-9),
        )

    def poll(self) -> None:
        """Apply the updates that have arrived, up to a bounded batch, without waiting."""
        consumer = self._consumer
        if consumer is None:
            return
        batch: list[Any] = consumer.consume(num_messages=_POLL_BATCH, timeout=0)
        if batch and self._apply(batch):
            self._dirty = True
        if self._dirty and time.monotonic() >= self._next_checkpoint:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Flush the dead letters and every store, then record the offsets they reflect."""
        self._dead_letters.flush()
        for store in self._stores.values():
            backend = store.backend
            assert isinstance(backend, RocksDBStore)
            backend.flush()
            offsets = {p: o for (t, p), o in self._next.items() if t == store.spec.topic}
            _write_checkpoint(backend, offsets)
        self._dirty = False
        self._next_checkpoint = time.monotonic() + _CHECKPOINT_S

    def close(self) -> None:
        """Checkpoint (what is applied is consistent with the offsets), close all; idempotent."""
        try:
            if self._consumer is not None:
                self.checkpoint()
        except StreamletError as exc:
            log.warning("global tables: last checkpoint failed: %s", exc)
        finally:
            if self._consumer is not None:
                with contextlib.suppress(Exception):
                    self._consumer.close()
                self._consumer = None
            for store in self._stores.values():
                store.backend.close()
            self._stores.clear()

    # -- internals ----------------------------------------------------------------------
    def _open(self, spec: GlobalTableSpec, *, wipe: bool = False) -> GlobalStore:
        path = self._dir / spec.name
        if wipe:
            old = next((s for s in self._stores.values() if s.spec.name == spec.name), None)
            if old is not None:
                old.backend.close()
            RocksDBStore.destroy(path)
        try:
            backend = RocksDBStore(path, spec.name)
        except StoreLockedError:
            raise
        except StateError as exc:
            log.warning("global table %s at %s is unusable (%s): wiping it", spec.name, path, exc)
            RocksDBStore.destroy(path)
            backend = RocksDBStore(path, spec.name)
        return GlobalStore(
            spec,
            backend,
            self._cfg.errors,
            self._cfg.dead_letter_topic,
            self._dead_letters.produce,
            lambda: int(time.time() * 1000),
        )

    def _partitions(self) -> list[tuple[str, int]]:
        topics = sorted(self._stores)
        described = self._admin.describe(topics)
        missing = [t for t in topics if described[t] is None]
        if missing:
            names = {t: self._stores[t].spec.name for t in missing}
            raise TopicError(
                f"missing topics of global tables: {names}; create them before starting the app",
                topic=missing[0],
            )
        return [(t, p) for t, info in described.items() if info for p in range(info.partitions)]

    def _apply(self, batch: list[Any], on_applied: Callable[[str, int], None] | None = None) -> int:
        """Apply consumed records per store; returns how many records there were."""
        groups: dict[str, list[Any]] = {}
        for msg in batch:
            err = msg.error()
            if err is None:
                groups.setdefault(msg.topic(), []).append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                if err.fatal():
                    raise StreamletError(f"global table consumer fatal error: {err.str()}")
                log.warning("global table consumer error: %s", err.str())
        applied = 0
        for topic, msgs in groups.items():
            self._stores[topic].apply(msgs)  # the policy's FAIL raises before offsets move
            for msg in msgs:
                self._next[(topic, msg.partition())] = msg.offset() + 1
            applied += len(msgs)
            if on_applied is not None:
                on_applied(self._stores[topic].spec.name, len(msgs))
        return applied


class _DeadLetters:
    """Dead letters of global topics: not part of any transaction (neither is the global
    store), so a plain idempotent producer, made on first use and flushed before every
    checkpoint so a record is never checkpointed past before its dead letter is written."""

    def __init__(self, cfg: AppConfig) -> None:
        self._cfg = cfg
        self._producer: Producer | None = None
        self._failed: str | None = None

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        _partition: int,
        timestamp: int,
        headers: Any,
    ) -> None:
        if self._producer is None:
            self._producer = Producer(producer_config(self._cfg, None, self._on_delivery))
        self._producer.produce(topic, value, key, timestamp=timestamp, headers=headers)
        self._producer.poll(0)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._failed = str(err)

    def flush(self) -> None:
        if self._producer is None:
            return
        left = self._producer.flush(30)
        if left or self._failed:
            raise ProductionError(
                f"dead letters of global tables were not written ({left} pending): "
                f"{self._failed or 'flush timed out'}"
            )


def _consumer_config(cfg: AppConfig) -> dict[str, Any]:
    """An assign-only read_committed consumer, as for restoration, named ``<client>-global``."""
    conf = restore_consumer_config(cfg)
    conf["group.id"] = f"{cfg.application_id}-global"  # never joined, never committed
    conf["fetch.wait.max.ms"] = 50
    if "client.id" in cfg.client_config:
        conf["client.id"] = f"{cfg.client_config['client.id']}-global"
    return conf


def _low_watermark(consumer: Consumer, topic: str, partition: int) -> int:
    """The first offset still in the partition (retention may have deleted earlier ones)."""
    tp = TopicPartition(topic, partition)
    low, _ = retry_transient(
        lambda: consumer.get_watermark_offsets(tp, timeout=5.0, cached=False),
        f"watermarks of {topic}[{partition}]",
        120.0,
    )
    return int(low)


def _read_checkpoint(backend: Any) -> dict[int, int]:
    path = Path(backend.path) / CHECKPOINT
    try:
        data = json.loads(path.read_text())
        return {int(p): int(o) for p, o in data["offsets"].items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable checkpoint %s (%s): reloading the table", path, exc)
        return {}


def _write_checkpoint(backend: RocksDBStore, offsets: dict[int, int]) -> None:
    path = backend.path / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps({"offsets": {str(p): o for p, o in sorted(offsets.items())}}))
        os.replace(tmp, path)  # atomic: a crash leaves the old checkpoint or the new one
    except OSError as exc:
        raise StateError(f"cannot write checkpoint {path}: {exc}") from exc
