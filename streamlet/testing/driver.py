"""``TopologyTestDriver``: run a topology's real tasks without a broker.

The driver builds the same ``Task`` objects the worker builds (one per sub-topology; every
topic has one partition, partition 0, as in Kafka Streams' driver) over in-memory stores,
and replaces only the Kafka client and the commit:

- input records are serialized and handed to the task as consumer messages;
- what the tasks produce is held in an open "transaction" while the piped record runs;
  records on a topic the topology reads (repartition topics, and source topics written by
  the topology itself) are fed to the task reading it as soon as the record that produced
  them is done, depth-first and in order (never re-entering a task mid-record);
- then the driver commits, as the worker's commit protocol does: each store's pending writes
  become changelog records and are flushed to the store with the changelog's end offset, and
  every produced record becomes readable through ``output_topic``.

A record whose processing raises aborts the transaction: its produced records and store
writes are discarded and the error (located by the task: topic, partition, offset)
propagates. Unlike the worker, the driver does not then reopen its tasks: stream time and
punctuation schedules keep what the failed record set. Error policies (``CONTINUE``,
``DEAD_LETTER``) act inside the task, as in the runtime; dead letters land in the
dead-letter topic, readable like any other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from streamlet.app import App
from streamlet.config import AppConfig
from streamlet.errors import StreamletError, TopicError, TopologyError
from streamlet.record import Headers
from streamlet.runtime.global_store import GlobalStore
from streamlet.runtime.task import Task, TaskStore
from streamlet.serde import Serde
from streamlet.state import BufferedStore, KeyValueStore, MemoryStore
from streamlet.state.cache import CacheBudget
from streamlet.testing.message import Message, as_headers
from streamlet.testing.topics import InputTopic, OutputTopic
from streamlet.topology.topology import SubTopology, Topology


class TopologyTestDriver:
    """Drives an ``App``'s (or a ``Topology``'s) tasks in memory; use it as a context manager.

    ``config`` overrides the app's configuration (error policies, dead-letter topic); for a
    bare ``Topology`` the default is ``AppConfig(topology.application_id)``. The mock wall
    clock starts at ``wall_clock_start_ms`` and moves only with ``advance_wall_clock``.
    Not thread-safe.
    """

    def __init__(
        self,
        app_or_topology: App | Topology,
        config: AppConfig | None = None,
        *,
        wall_clock_start_ms: int = 0,
    ) -> None:
        if isinstance(app_or_topology, App):
            topology = app_or_topology.topology()
            config = config or app_or_topology.config
        else:
            topology = app_or_topology
            config = config or AppConfig(topology.application_id)
        self.topology = topology
        self.config = config
        self._now = wall_clock_start_ms
        self._closed = False
        self._ends: dict[str, int] = {}  # topic -> next offset
        self._unread: dict[str, deque[Message]] = {}
        self._open: list[Message] = []  # produced in the current transaction
        self._tasks: list[Task] = []
        # each pipe is a commit: with a record cache, a pipe's output is each key's newest
        self._cache = CacheBudget(config.cache_max_bytes)
        self._reader: dict[str, Task | GlobalStore] = {}
        # a global table's topic updates its store directly, as in Kafka Streams' driver
        self._globals = {
            spec.name: GlobalStore(
                spec,
                MemoryStore(spec.name),
                config.errors,
                config.dead_letter_topic,
                self._produce,
                self._clock_ms,
            )
            for spec in topology.global_tables.values()
        }
        self._reader.update({g.spec.topic: g for g in self._globals.values()})
        try:
            for sub in topology.subtopologies:
                task = self._new_task(sub)
                self._tasks.append(task)
                self._reader.update(dict.fromkeys(sub.source_topics, task))
            self._run(lambda: None)  # commit what processors' init() may have written
        except BaseException:
            self.close()
            raise

    def _new_task(self, sub: SubTopology) -> Task:
        stores: dict[str, TaskStore] = {}
        for name in sub.stores:
            stores[name] = TaskStore(self.topology.stores[name], BufferedStore(MemoryStore(name)))
        return Task(
            sub,
            0,
            stores,
            self._produce,
            lambda _topic: 1,
            self.config.errors,
            self.config.dead_letter_topic,
            lambda: None,  # the driver commits after every record anyway
            clock=self._clock_ms,
            global_stores={name: g.view for name, g in self._globals.items()},
            cache=self._cache,
        )

    # -- public surface -------------------------------------------------------------------
    @property
    def wall_clock_ms(self) -> int:
        """The mock wall clock's current time."""
        return self._now

    def input_topic(
        self,
        name: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        *,
        start_timestamp_ms: int = 0,
        auto_advance_ms: int = 0,
    ) -> InputTopic:
        """A handle to pipe records into ``name``, which the topology must read."""
        if name not in self._reader:
            raise TopologyError(
                f"topic {name!r} is not read by the topology (it reads {sorted(self._reader)})"
            )
        return InputTopic(
            name, key_serde, value_serde, self._pipe, start_timestamp_ms, auto_advance_ms
        )

    def output_topic(
        self, name: str, key_serde: Serde[Any] | None = None, value_serde: Serde[Any] | None = None
    ) -> OutputTopic:
        """A reader of the records produced to ``name`` (sink, repartition, changelog or
        dead-letter topic); ``None`` serdes read ``bytes``."""
        return OutputTopic(name, key_serde, value_serde, self._queue(name))

    def store(self, name: str) -> KeyValueStore[Any, Any]:
        """The typed store ``name`` of the task that owns it, committed as of the last call.

        Writes made through it are buffered like a processor's and committed by the next
        ``pipe`` or ``advance_wall_clock``."""
        self._check_open()
        for task in self._tasks:
            if name in task.stores:
                typed: KeyValueStore[Any, Any] = task.stores[name].typed
                return typed
        if name in self._globals:
            return self._globals[name].view
        raise TopologyError(f"no store {name!r}; the topology has {sorted(self.topology.stores)}")

    def advance_wall_clock(self, ms: int) -> None:
        """Move the mock wall clock forward by ``ms`` and fire every wall-clock punctuator
        that is due (once each, as the worker loop does), then commit."""
        if ms < 0:
            raise ValueError(f"the wall clock only moves forward, not by {ms} ms")
        self._check_open()
        self._now += ms

        def punctuate() -> None:
            for task in self._tasks:
                start = len(self._open)
                task.punctuate_wall_clock()
                self._cascade(start)

        self._run(punctuate)

    def close(self) -> None:
        """Close every task: processors' ``close()``, then the stores. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._open.clear()
        for task in self._tasks:
            task.close()
        for table in self._globals.values():
            table.backend.close()

    def __enter__(self) -> TopologyTestDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the transaction ------------------------------------------------------------------
    def _clock_ms(self) -> int:
        return self._now

    def _check_open(self) -> None:
        if self._closed:
            raise StreamletError("the TopologyTestDriver is closed")

    def _queue(self, topic: str) -> deque[Message]:
        return self._unread.setdefault(topic, deque())

    def _next_offset(self, topic: str) -> int:
        offset = self._ends.get(topic, 0)
        self._ends[topic] = offset + 1
        return offset

    def _pipe(
        self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers
    ) -> None:
        message = Message(topic, 0, self._next_offset(topic), key, value, timestamp, headers)
        self._run(lambda: self._feed(message))

    def _produce_all(
        self, topic: str, pairs: Iterable[tuple[bytes, bytes | None]], partition: int
    ) -> None:
        """Changelog records at commit, stamped with the mock wall clock."""
        for key, value in pairs:
            self._produce(topic, key, value, partition, self._now, None)

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int,
        timestamp: int,
        headers: Any,
    ) -> None:
        if partition not in (-1, 0):
            raise TopicError(
                f"partition {partition} of topic {topic!r} does not exist: every topic has "
                "one partition in the TopologyTestDriver",
                topic=topic,
            )
        offset = self._next_offset(topic)
        self._open.append(Message(topic, 0, offset, key, value, timestamp, as_headers(headers)))

    def _feed(self, message: Message) -> None:
        start = len(self._open)
        self._reader[message.topic()].process(message)
        self._cascade(start)

    def _cascade(self, start: int) -> None:
        """Feed the records produced since ``start`` that the topology reads, depth-first."""
        for message in self._open[start:]:
            if message.topic() in self._reader:
                self._feed(message)

    def _flush_caches(self) -> None:
        """Flush every task's record cache, feeding what that produces to the tasks reading
        it (whose caches it may dirty in turn), until all are clean."""
        while any(task.has_dirty_cache() for task in self._tasks):
            for task in self._tasks:
                start = len(self._open)
                task.flush_caches()
                self._cascade(start)

    def _run(self, step: Callable[[], None]) -> None:
        """Run ``step`` in a transaction: commit it, or abort it and re-raise."""
        self._check_open()
        try:
            step()
            self._commit()
        except BaseException:
            self._open.clear()
            for task in self._tasks:
                task.discard()
            raise

    def _commit(self) -> None:
        self._flush_caches()
        for task in self._tasks:
            task.produce_changelogs(self._produce_all)
            task.flush_stores(lambda changelog, _partition: self._ends.get(changelog, 0))
        for message in self._open:
            self._queue(message.topic()).append(message)
        self._open.clear()
