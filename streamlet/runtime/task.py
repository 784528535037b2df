"""A task: one sub-topology on one partition, with its stores, offsets and punctuators."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamlet.config import ErrorPolicies, ErrorPolicy
from streamlet.errors import (
    ProcessingError,
    ProductionError,
    SerializationError,
    StreamletError,
    TopologyError,
    TransactionError,
)
from streamlet.record import Record, new_record
from streamlet.runtime.compile import compile_subtopology
from streamlet.runtime.deadletter import dead_letter_headers
from streamlet.runtime.partition_group import PartitionGroup
from streamlet.runtime.userfn import Emit, Produce, ProduceAll, user_error
from streamlet.state.buffered import BufferedStore
from streamlet.state.cache import CacheBudget, Flush, RecordCache
from streamlet.state.join import JoinBufferStore, OuterJoinStore
from streamlet.state.session import SessionStore
from streamlet.state.sliding import SlidingStore
from streamlet.state.typed import KeyValueStore
from streamlet.state.window import WindowStore
from streamlet.topology.nodes import ProcessorNode, SourceNode, StoreSpec
from streamlet.topology.topology import SubTopology

log = logging.getLogger(__name__)

_VIEWS: dict[str, type[Any]] = {
    "window": WindowStore,
    "session": SessionStore,
    "sliding": SlidingStore,
    "join": JoinBufferStore,
    "join_outer": OuterJoinStore,
}

_Deserialize = Callable[[str, bytes | None], Any]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Punctuator:
    interval_ms: int
    callback: Callable[[int], None]
    node: str
    next_fire: int


@dataclass
class TaskStore:
    """A store partition owned by a task: the spec, the buffered bytes store and its typed view."""

    spec: StoreSpec
    buffered: BufferedStore
    typed: Any = field(init=False)  # KeyValueStore, WindowStore or SessionStore by kind

    def __post_init__(self) -> None:
        view = _VIEWS.get(self.spec.kind, KeyValueStore)
        self.typed = view(self.buffered, self.spec.key_serde, self.spec.value_serde)


class Task:
    """Processes the records of one partition of one sub-topology, in offset order."""

    # called when an error policy skips or dead-letters a record (the worker's metrics)
    on_policy: Callable[[StreamletError, ErrorPolicy], None] | None = None

    def __init__(
        self,
        sub: SubTopology,
        partition: int,
        stores: dict[str, TaskStore],
        produce: Produce,
        partitions_of: Callable[[str], int],
        errors: ErrorPolicies,
        dead_letter_topic: str,
        request_commit: Callable[[], None],
        clock: Callable[[], int] | None = None,
        global_stores: Mapping[str, Any] | None = None,
        cache: CacheBudget | None = None,
    ) -> None:
        self.clock: Callable[[], int] = clock or wall_clock_ms
        self.partition = partition
        self.task_id = f"{sub.id}_{partition}"
        self.stores = stores
        self._global_stores = global_stores or {}  # every worker's own, read-only
        # plain attributes, not wrapper methods: the sink calls produce once per record
        self.produce = produce
        self.partitions_of = partitions_of
        self._errors = errors
        self._dlq = dead_letter_topic
        self.request_commit = request_commit
        self.offsets: dict[str, int] = {}  # source topic -> next offset to consume
        self.stream_time = -1
        self.late_dropped = 0  # records windowed operators dropped as late
        # reason -> records operators dropped (a join's null key) since the metrics took them
        self.dropped: dict[str, int] = {}
        self.skipped = 0  # skipped or dead-lettered, committed
        self._skipped_pending = 0  # the same, in the open transaction
        self._stream_punctuators: list[_Punctuator] = []
        self._wall_punctuators: list[_Punctuator] = []
        self._closers: list[Callable[[], None]] = []
        self._cache_budget = cache if cache is not None and cache.max_bytes > 0 else None
        self._caches: list[RecordCache] = []  # the record caches of this task's nodes
        emits = compile_subtopology(sub, self)
        # one lookup per record: the source node, its bound deserializers (None: raw bytes)
        # and its compiled chain
        self._inputs: dict[str, tuple[SourceNode, _Deserialize | None, _Deserialize | None, Emit]]
        self._inputs = {
            t: (
                n,
                n.key_serde.deserialize if n.key_serde else None,
                n.value_serde.deserialize if n.value_serde else None,
                emits[t],
            )
            for n in sub.sources()
            for t in n.topics
        }
        self.consumed: dict[str, int] = dict.fromkeys(self._inputs, 0)  # read by the metrics
        # several input partitions: the worker buffers them here to process in event-time
        # order; one: records go straight to process()
        self.inputs: PartitionGroup | None = None
        if len(self._inputs) > 1:
            extracted = any(n.timestamp_extractor is not None for n in sub.sources())
            self.inputs = PartitionGroup(list(self._inputs), self.event_time if extracted else None)

    # -- TaskServices -------------------------------------------------------------------
    def store(self, name: str) -> Any:
        try:
            return self.stores[name].typed
        except KeyError:
            raise TopologyError(f"task {self.task_id} has no store {name!r}") from None

    def global_store(self, name: str) -> Any:
        try:
            return self._global_stores[name]
        except KeyError:
            raise TopologyError(f"task {self.task_id} has no global store {name!r}") from None

    def record_cache(self, node: str, flush: Flush) -> RecordCache | None:
        if self._cache_budget is None:
            return None
        cache = RecordCache(f"{self.task_id}/{node}", self._cache_budget, flush)
        self._caches.append(cache)
        return cache

    def node_context(self, node: ProcessorNode, children: dict[str, Emit]) -> NodeContext:
        return NodeContext(self, node, children)

    def add_punctuator(self, kind: str, p: _Punctuator) -> None:
        kinds = {"stream_time": self._stream_punctuators, "wall_clock": self._wall_punctuators}
        kinds[kind].append(p)

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    # -- processing ---------------------------------------------------------------------
    def process(self, msg: Any) -> None:
        """Deserialize and run one consumed message through the chain."""
        self.process_run((msg,), msg.topic())

    def process_run(self, msgs: Sequence[Any], topic: str) -> None:
        """``process`` each of ``msgs``, consecutive messages of one input partition of
        ``topic``, in order: what is the same for all of them is looked up once (the worker
        hands each run of a fetched batch over in one call)."""
        source, key_de, value_de, emit = self._inputs[topic]
        extractor = source.timestamp_extractor
        partition = self.partition
        punctuators = self._stream_punctuators
        stream_time = self.stream_time
        offset = -1
        for msg in msgs:
            offset = msg.offset()
            raw_key = msg.key()
            raw_value = msg.value()
            try:
                key = key_de(topic, raw_key) if key_de else raw_key
                value = value_de(topic, raw_value) if value_de else raw_value
                ts = msg.timestamp()[1]
                if extractor is not None:
                    ts = self._extract(extractor, key, value, ts, source.name)
            except StreamletError as exc:  # undeserializable, or the extractor failed
                self._locate(exc, topic, offset)
                policy = (
                    self._errors.deserialization
                    if isinstance(exc, SerializationError)
                    else self._errors.processing
                )
                self._on_error(exc, policy, msg, source.name)
                continue
            headers = msg.headers()
            record = new_record(
                Record,
                (key, value, ts, tuple(headers) if headers else (), topic, partition, offset),
            )
            if ts > stream_time:
                self.stream_time = stream_time = ts
            try:
                emit(record)
            except TransactionError:
                raise  # the producer failed: the worker recovers; not a record's fault
            except StreamletError as exc:
                self._locate(exc, topic, offset)
                policy = (
                    self._errors.production
                    if isinstance(exc, ProductionError)
                    else self._errors.processing
                )
                self._on_error(exc, policy, msg, getattr(exc, "processor", None) or source.name)
            except Exception as exc:  # a bug outside user code must still name the record
                raise ProcessingError(
                    f"task {self.task_id} failed: {exc!r}",
                    topic=topic,
                    partition=partition,
                    offset=offset,
                ) from exc
            if punctuators:
                self._punctuate(punctuators, self.stream_time)
                stream_time = self.stream_time
        # an error that escapes aborts the transaction: offsets matter only once all are done
        self.consumed[topic] += len(msgs)
        if offset >= 0:
            self.offsets[topic] = offset + 1

    @staticmethod
    def _extract(extractor: Any, key: Any, value: Any, ts: int, source: str) -> int:
        try:
            extracted = extractor(key, value, ts)
            if not isinstance(extracted, int) or extracted < 0:
                raise ValueError(f"the timestamp extractor returned {extracted!r}, not a time >= 0")
        except Exception as exc:
            raise user_error(exc, source, extractor) from exc
        return extracted

    def event_time(self, msg: Any) -> int:
        """The timestamp ``process(msg)`` will give the record: its timestamp extractor's, if
        the source has one. A record that fails to deserialize or extract orders by its own
        timestamp; its error policy applies when it is processed."""
        ts: int = msg.timestamp()[1]
        source, key_de, value_de, _emit = self._inputs[msg.topic()]
        if source.timestamp_extractor is None:
            return ts
        try:
            topic = msg.topic()
            key = key_de(topic, msg.key()) if key_de else msg.key()
            value = value_de(topic, msg.value()) if value_de else msg.value()
            extracted = source.timestamp_extractor(key, value, ts)
        except Exception:
            return ts
        return extracted if isinstance(extracted, int) and extracted >= 0 else ts

    def reject(self, msg: Any, exc: StreamletError, policy: ErrorPolicy) -> None:
        """Apply ``policy`` (CONTINUE or DEAD_LETTER) to a record instead of processing it."""
        topic, offset = msg.topic(), msg.offset()
        self._locate(exc, topic, offset)
        self._on_error(exc, policy, msg, "sink")
        self.offsets[topic] = offset + 1

    def _locate(self, exc: StreamletError, topic: str, offset: int) -> None:
        exc.topic, exc.partition, exc.offset = topic, self.partition, offset

    def _on_error(self, exc: StreamletError, policy: ErrorPolicy, msg: Any, where: str) -> None:
        if policy is ErrorPolicy.FAIL:
            raise exc
        self._skipped_pending += 1
        if self.on_policy is not None:
            self.on_policy(exc, policy)
        if policy is ErrorPolicy.CONTINUE:
            log.warning("skipping record (policy CONTINUE): %s", exc)
            return
        headers = dead_letter_headers(exc, msg, where)
        self.produce(
            self._dlq,
            msg.key(),
            msg.value(),
            -1,
            self.clock(),  # not the event time: an old one would expire under retention
            headers + list(msg.headers() or ()),
        )

    def punctuate_wall_clock(self) -> None:
        if self._wall_punctuators:
            self._punctuate(self._wall_punctuators, self.clock())

    def _punctuate(self, punctuators: list[_Punctuator], now: int) -> None:
        for p in punctuators:
            if now >= 0 and p.next_fire <= now:
                missed = (now - p.next_fire) // p.interval_ms
                p.next_fire += (missed + 1) * p.interval_ms
                try:
                    p.callback(now)
                except StreamletError:
                    raise
                except Exception as exc:
                    raise user_error(exc, p.node, p.callback) from exc

    # -- state --------------------------------------------------------------------------
    def flush_caches(self) -> None:
        """Forward the newest update of every key the record caches hold. A flush can dirty a
        cache downstream in this task, so repeat until all are clean."""
        # caches are created as their nodes compile, downstream first: flushing upstream
        # first lets a downstream cache coalesce what the upstream flush sends it
        upstream_first = self._caches[::-1]
        while self.has_dirty_cache():
            for cache in upstream_first:
                cache.flush()

    def has_dirty_cache(self) -> bool:
        return any(cache.dirty for cache in self._caches)

    def produce_changelogs(self, produce_all: ProduceAll) -> list[str]:
        """Step 2: flush the record caches (their output joins this transaction), then every
        pending store write (one per key) to its changelog, in one ``produce_all`` call per
        store; returns the changelog topics written."""
        self.flush_caches()
        written: list[str] = []
        for ts in self.stores.values():
            changelog = ts.spec.changelog
            if changelog and ts.buffered.has_pending():
                produce_all(changelog, ts.buffered.pending().items(), self.partition)
                written.append(changelog)
        return written

    def has_pending_writes(self) -> bool:
        """Whether any store or record cache holds writes not yet committed."""
        return self.has_dirty_cache() or any(
            ts.buffered.has_pending() for ts in self.stores.values()
        )

    def flush_stores(self, end_offset: Callable[[str, int], int | None]) -> None:
        """Step 5: the committed writes go to disk with the changelog offset they reflect,
        ``end_offset(changelog, partition)``."""
        self.skipped += self._skipped_pending
        self._skipped_pending = 0
        for ts in self.stores.values():
            if ts.buffered.has_pending():
                changelog = ts.spec.changelog
                ts.buffered.flush(end_offset(changelog, self.partition) if changelog else None)

    def discard(self) -> None:
        self._skipped_pending = 0
        for cache in self._caches:
            cache.discard()
        for ts in self.stores.values():
            ts.buffered.discard()

    def close(self) -> None:
        """Close processors, then stores (callers flush or discard first)."""
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                log.exception("close() of a processor in task %s failed", self.task_id)
        for cache in self._caches:  # give the worker's budget back
            cache.discard()
        for ts in self.stores.values():
            ts.buffered.close()


class NodeContext:
    """The ProcessorContext of one ``process`` node in one task."""

    def __init__(self, task: Task, node: ProcessorNode, children: dict[str, Emit]) -> None:
        self._task = task
        self._node = node
        self._children = children
        self._all = tuple(dict.fromkeys(children.values()))  # a sink is there by name and topic

    @property
    def task_id(self) -> str:
        return self._task.task_id

    @property
    def stream_time(self) -> int:
        return self._task.stream_time

    def forward(self, record: Record, to: str | None = None) -> None:
        if to is None:
            for child in self._all:
                child(record)
            return
        target = self._children.get(to)
        if target is None:
            raise TopologyError(
                f"processor {self._node.name!r} forwarded to {to!r}, which is not one of its "
                f"children {sorted(self._children)}"
            )
        target(record)

    def store(self, name: str) -> Any:
        if name not in self._node.stores:
            raise TopologyError(
                f"processor {self._node.name!r} did not declare store {name!r} "
                f"(declared: {list(self._node.stores)})"
            )
        return self._task.store(name)

    def schedule(self, interval_ms: int, kind: str, callback: Callable[[int], None]) -> None:
        if kind not in ("stream_time", "wall_clock"):
            raise TopologyError(f"punctuation kind must be stream_time or wall_clock, not {kind!r}")
        if interval_ms <= 0:
            raise TopologyError(f"punctuation interval must be > 0 ms, not {interval_ms}")
        # wall clock: one interval from now; stream time: as in Kafka Streams, aligned to
        # multiples of the interval since the epoch, so the first record fires it at once
        first = self._task.clock() + interval_ms if kind == "wall_clock" else 0
        self._task.add_punctuator(kind, _Punctuator(interval_ms, callback, self._node.name, first))

    def commit(self) -> None:
        self._task.request_commit()

    def on_close(self, fn: Callable[[], None]) -> None:
        self._task.on_close(fn)
