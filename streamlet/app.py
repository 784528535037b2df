"""``App``: configuration plus a topology builder; running is delegated to the runtime."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from streamlet.config import EXACTLY_ONCE_V2, AppConfig, ErrorPolicies
from streamlet.errors import StreamletError, TopologyError
from streamlet.serde import Json, Serde, String
from streamlet.topology.builder import TopologyBuilder
from streamlet.topology.global_table import GlobalTable, add_global_table
from streamlet.topology.nodes import TimestampExtractor
from streamlet.topology.stream import Stream, Table
from streamlet.topology.topology import Topology

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """A streaming application: ``application_id`` is its consumer group, its transactional-id
    prefix and the prefix of its internal topics."""

    def __init__(
        self,
        application_id: str,
        *,
        bootstrap_servers: str = "localhost:9092",
        processing_guarantee: str = EXACTLY_ONCE_V2,
        commit_interval_ms: int | None = None,
        state_dir: str | Path = ".streamlet",
        config: Mapping[str, Any] | None = None,
        errors: ErrorPolicies | None = None,
        static_membership: bool = False,
        repartition_purge_interval_ms: int = 30_000,
        default_key_serde: Serde[Any] | None = None,
        default_value_serde: Serde[Any] | None = None,
        metrics_port: int | None = None,
        replication_factor: int = -1,
        max_task_idle_ms: int = 0,
        cache_max_bytes: int = 0,
    ) -> None:
        self.config = AppConfig(
            application_id=application_id,
            bootstrap_servers=bootstrap_servers,
            processing_guarantee=processing_guarantee,
            commit_interval_ms=commit_interval_ms,
            state_dir=Path(state_dir),
            client_config=dict(config or {}),
            errors=errors or ErrorPolicies(),
            static_membership=static_membership,
            repartition_purge_interval_ms=repartition_purge_interval_ms,
            metrics_port=metrics_port,
            replication_factor=replication_factor,
            max_task_idle_ms=max_task_idle_ms,
            cache_max_bytes=cache_max_bytes,
        )
        # serdes for keys and values no operation declared (JSON unless given, as Kafka
        # Streams' default.key.serde / default.value.serde)
        self._defaults = (default_key_serde, default_value_serde)
        self._builder = TopologyBuilder(
            application_id,
            default_key_serde=default_key_serde,
            default_value_serde=default_value_serde,
        )
        self._thread: threading.Thread | None = None
        self._worker: Any = None
        self._failure: BaseException | None = None

    @property
    def application_id(self) -> str:
        return self.config.application_id

    # -- DSL ------------------------------------------------------------------------------
    def stream(
        self,
        topics: str | Sequence[str],
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        timestamp_extractor: TimestampExtractor | None = None,
    ) -> Stream:
        """A stream of the records of ``topics`` (bytes when no serde is given)."""
        names = [topics] if isinstance(topics, str) else list(topics)
        node = self._builder.add_source(names, key_serde, value_serde, timestamp_extractor)
        return Stream(self._builder, node, key_serde, value_serde)

    def table(
        self,
        topic: str,
        *,
        name: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> Table:
        """``topic`` read as a table (latest value per key; null values delete) in store ``name``."""
        return self.stream(topic, key_serde, value_serde).to_table(name, value_serde=value_serde)

    def global_table(
        self,
        topic: str,
        *,
        name: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> GlobalTable:
        """``topic`` read whole by every worker into the global store ``name``: loaded to the
        end before any record is processed, kept up to date while running (null values
        delete); joined with ``stream.join(table, joiner, key_mapper=fn(key, value))``."""
        return add_global_table(self._builder, topic, name, key_serde, value_serde)

    def store(
        self,
        name: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        logged: bool = True,
    ) -> None:
        """Declare a key-value store for processors (the app's default serdes: JSON unless set)."""
        b = self._builder
        ks, vs = key_serde or b.default_key_serde, value_serde or b.default_value_serde
        b.add_store(name, ks, vs, logged=logged)

    def processor(
        self,
        *,
        source: str | Sequence[str],
        sinks: Iterable[str] = (),
        stores: Iterable[str] = (),
        name: str | None = None,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> Callable[[F], F]:
        """Register ``fn(record, ctx)`` on ``source``; ``ctx.forward(r, to=<sink topic>)``
        (sink nodes are named ``<processor>-><topic>``; ``to=`` takes either).

        Keys are strings and values JSON unless serdes (or the app's defaults) are given;
        undeclared stores are declared with the app's default serdes."""
        ks = key_serde or self._defaults[0] or String()
        vs = value_serde or self._defaults[1] or Json()
        stores, sinks = tuple(stores), tuple(sinks)

        def register(fn: F) -> F:
            node_name = name or getattr(fn, "__name__", None) or self._builder.auto_name("process")
            for store in stores:
                if not self._builder.has_store(store):
                    self.store(store)
            src = self.stream(source, ks, vs)
            node = src.process(fn, stores=tuple(stores), name=node_name)
            for topic in sinks:
                self._builder.add_sink(node.node, topic, ks, vs, name=f"{node_name}->{topic}")
            return fn

        return register

    def topology(self) -> Topology:
        """The frozen topology built so far."""
        return self._builder.build()

    def describe(self) -> str:
        return self.topology().describe()

    # -- running --------------------------------------------------------------------------
    def run(self, *, worker_index: int = 0) -> None:
        """Run one worker in this thread until SIGTERM/SIGINT or ``stop()``."""
        from streamlet.runtime.worker import Worker

        self._worker = Worker(self.topology(), self.config, worker_index)
        self._worker.run()

    def start(self) -> None:
        """Run one worker in a background thread (for hosts that own their main loop)."""
        if self._thread is not None:
            raise TopologyError("this App is already started")
        from streamlet.runtime.worker import Worker

        worker = Worker(self.topology(), self.config)
        self._worker = worker

        def target() -> None:
            try:
                worker.run()
            except BaseException as exc:
                self._failure = exc

        self._thread = threading.Thread(
            target=target, name=f"streamlet-{self.application_id}", daemon=True
        )
        self._thread.start()

    def wait_until_running(self, timeout: float = 60.0) -> bool:
        """True once the started worker has completed its first loop iteration."""
        return self._worker is not None and bool(self._worker.ready.wait(timeout))

    def stop(self, timeout: float = 60.0) -> None:
        """Stop a worker started with ``start()``: commit, leave the group, join the thread.
        Re-raises the error that stopped the worker, if one did."""
        if self._worker is not None:
            self._worker.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            if isinstance(failure, StreamletError):
                raise failure
            raise StreamletError(f"worker failed: {failure!r}") from failure
