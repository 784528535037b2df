"""The worker: one consumer, one producer, the tasks assigned to it, and the loop.

consume a batch → route each record to its task → run the compiled chain → commit when
the interval is due or a commit was requested. Rebalances commit first (every task shares
the one transaction), then close the revoked tasks; assigned tasks wait, their partitions
paused, while the loop restores their stores (``restoring.py``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streamlet.config import AppConfig, ErrorPolicy
from streamlet.errors import (
    InstanceFencedError,
    ProducerFencedError,
    ProductionError,
    StreamletError,
    TransactionError,
)
from streamlet.kafka.admin import Admin
from streamlet.kafka.clients import consumer_config, restore_consumer_config, with_client_id
from streamlet.kafka.preflight import preflight
from streamlet.kafka.translate import consumer_failure
from streamlet.runtime.commit import Committer
from streamlet.runtime.fence import FenceJudge
from streamlet.runtime.global_tables import GlobalTables
from streamlet.runtime.identity import WorkerIdentity, claim_identity
from streamlet.runtime.isolation import Isolation
from streamlet.runtime.metrics import WorkerMetrics
from streamlet.runtime.metrics_http import serve_worker_metrics
from streamlet.runtime.partition_group import consumer_settings, orders_inputs, take_ready
from streamlet.runtime.purge import RepartitionPurger
from streamlet.runtime.restore import Restoration, RestoreTarget
from streamlet.runtime.restoring import PendingTasks
from streamlet.runtime.rewind import rewind_to_committed
from streamlet.runtime.stall import StallWatch, stall_threshold_s
from streamlet.runtime.stores import open_store_partitions, task_stores
from streamlet.runtime.task import Task
from streamlet.runtime.topics import prepare_topics
from streamlet.state.cache import CacheBudget
from streamlet.topology.topology import SubTopology, Topology

log = logging.getLogger(__name__)

_BATCH = 2000
_MAX_RECOVERIES = 10


class Worker:
    """Runs ``topology`` until ``stop()``; ``run()`` raises the error that stopped it."""

    def __init__(self, topology: Topology, cfg: AppConfig, index: int = 0) -> None:
        self.topology = topology
        self.cfg = cfg
        self.index = index
        self._stopping = threading.Event()
        self._tasks: dict[str, Task] = {}
        self._by_tp: dict[tuple[str, int], Task] = {}
        self._isolation = Isolation()  # one record per transaction after a broker rejection
        self._commit_requested = False
        self._sub_of_topic: dict[str, SubTopology] = topology.subtopology_of_topic()
        self._counts: dict[str, int] = {}
        self.processed = 0
        self.skipped = 0  # records skipped or dead-lettered by an error policy
        self.ready = threading.Event()
        self._metrics = WorkerMetrics()
        self._ordered = orders_inputs(topology)  # some task reads several input partitions
        self._cache = CacheBudget(cfg.cache_max_bytes)  # shared by every task's record caches

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit, leave the group and return."""
        self._stopping.set()

    # -- lifecycle ----------------------------------------------------------------------
    def run(self) -> None:
        restore_signals = self._install_signal_handlers()
        identity = claim_identity(self.cfg.state_dir, self.cfg.application_id, self.index)
        self._identity: WorkerIdentity = identity
        self.cfg = with_client_id(self.cfg, identity.index)
        server = None
        try:
            preflight(self.cfg)  # a bad setting or no broker: one line now, not a traceback
            server = serve_worker_metrics(
                self.cfg.metrics_port, lambda: self.ready.is_set() and not self._stopping.is_set()
            )
            admin = self._admin = Admin(self.cfg.bootstrap_servers, self.cfg.client_config)
            policies = self.cfg.errors
            dlq = ErrorPolicy.DEAD_LETTER in (
                policies.deserialization,
                policies.processing,
                policies.production,
            )
            self._counts = prepare_topics(
                admin,
                self.topology,
                self.cfg.dead_letter_topic if dlq else None,
                self.cfg.replication_factor,
            )
            self._committer = Committer(
                self.cfg, identity.transactional_id, admin.client, self._metrics
            )
            self._purger = RepartitionPurger(
                admin.client,
                [
                    t
                    for t, spec in self.topology.internal_topics.items()
                    if spec.kind == "repartition"
                ],
                self.cfg.repartition_purge_interval_ms / 1000.0,
            )
            self._stalls = StallWatch(admin.client, stall_threshold_s(self.cfg))
            self._fences = FenceJudge(stall_threshold_s(self.cfg))
            instance = identity.transactional_id if self.cfg.static_membership else None
            self._consumer = Consumer(
                {
                    **consumer_config(self.cfg, instance),
                    **consumer_settings(self.topology, self.cfg.max_task_idle_ms),
                }
            )
            self._restorer = Consumer(restore_consumer_config(self.cfg))
            self._globals = GlobalTables(self.topology, self.cfg, identity, admin, self._metrics)
            self._globals.bootstrap(self._stopping.is_set)  # whole, before any task runs
            log.info(
                "worker %s starting (%s, commit every %.0f ms)",
                identity.transactional_id,
                self.cfg.processing_guarantee,
                self.cfg.commit_interval_s * 1000,
            )
            self._pending = PendingTasks(  # opening or restoring, paused
                self._consumer,
                Restoration(self._restorer, admin.client, self._metrics.restored),
                self._sub_of_topic,
                self._open_stores,
                self._new_task,
                self._committer.positions.set,
            )
            self._consumer.subscribe(
                self.topology.source_topics(),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            clean = False
            try:
                self._loop()
                clean = True
            finally:
                self._shutdown(clean)
        finally:
            if server is not None:
                server.close()
            identity.release()
            restore_signals()

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        for s in previous:
            signal.signal(s, lambda _n, _f: self.stop())

        def put_back() -> None:
            for s, handler in previous.items():
                signal.signal(s, handler)

        return put_back

    def _shutdown(self, clean: bool) -> None:
        if clean:
            self._commit_final()
        else:
            self._abort_quietly()
        self._close_all(clean=clean)
        try:
            self._consumer.close()  # leaves the group; on_revoke finds nothing left to do
        except Exception as exc:
            log.warning("closing the consumer: %s", exc)
        self._restorer.close()
        self._globals.close()
        self._committer.close(clean=clean)
        log.info(
            "worker %s stopped (%s) after %d records; %d skipped or dead-lettered by policy",
            self._identity.transactional_id,
            "clean" if clean else "dirty",
            self.processed,
            self.skipped,
        )

    # -- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        interval = self.cfg.commit_interval_s
        next_commit = time.monotonic() + interval
        dirty = False
        recoveries: list[float] = []
        failed_in_a_row = 0  # recoveries since the last successful commit: bounded by count
        committer = self._committer
        isolation = self._isolation
        while not self._stopping.is_set():
            self._globals.poll()  # updates of global tables, without waiting
            if self._pending:  # one bounded step of restoration; ready tasks start
                self._adopt(self._pending.step(running=bool(self._tasks)))
            batch = self._next_batch()
            current: Any = None  # the record in flight, when isolating
            try:
                if batch:
                    committer.begin()  # exactly-once: the records' work joins one transaction
                    dirty = True
                task_of = self._by_tp.get  # rebound per batch: rebalances replace the map
                # isolation starts only after a failed batch, and records processed isolated
                # after it ended mid-batch are still right: read once per batch, not per record
                isolating = isolation.active
                # consecutive records of one partition (a fetch's worth) go to their task in
                # one process_run call; the order of the batch is kept exactly
                run: list[Any] = []
                run_task: Task | None = None
                run_topic, run_partition = "", -1
                direct = False  # the run goes to process_run
                for msg in batch:
                    err = msg.error()
                    if err is not None:
                        if run:
                            run_task.process_run(run, run_topic)  # type: ignore[union-attr]
                            run = []
                        self._on_consumer_error(msg, err)
                        continue
                    topic, partition = msg.topic(), msg.partition()
                    if partition != run_partition or topic != run_topic:
                        if run:
                            run_task.process_run(run, run_topic)  # type: ignore[union-attr]
                            run = []
                        run_topic, run_partition = topic, partition
                        run_task = task_of((topic, partition))
                        direct = run_task is not None and run_task.inputs is None and not isolating
                    if direct:
                        run.append(msg)
                        continue
                    task = run_task
                    if task is None:  # revoked meanwhile; the new owner re-reads it
                        continue
                    if task.inputs is not None:  # several input partitions: event-time order
                        task.inputs.add(msg)
                        continue
                    current = msg
                    self._process_isolated(task, msg)
                    failed_in_a_row = 0
                    current = None
                if run:
                    run_task.process_run(run, run_topic)  # type: ignore[union-attr]
                if self._ordered:
                    now = time.monotonic()
                    idle_ms = self.cfg.max_task_idle_ms
                    for task, records in take_ready(list(self._tasks.values()), now, idle_ms):
                        committer.begin()
                        dirty = True
                        for msg in records:
                            if not isolation.active:
                                task.process(msg)
                                continue
                            current = msg
                            self._process_isolated(task, msg)
                            failed_in_a_row = 0
                            current = None
                self.processed += len(batch)
                self._metrics.tick(self._consumer, self._tasks.values())
                committer.poll()
                self._stalls.tick(self._by_tp)
                for task in self._tasks.values():
                    task.punctuate_wall_clock()
                now = time.monotonic()
                if now >= next_commit or self._commit_requested:
                    tasks = list(self._tasks.values())
                    if (
                        dirty
                        or committer.in_transaction
                        or any(t.has_pending_writes() for t in tasks)
                    ):
                        self._commit(tasks)
                        failed_in_a_row = 0
                        dirty = False
                    self._commit_requested = False
                    next_commit = now + interval
                self.ready.set()
            except ProducerFencedError as exc:
                if self._fence_is_fatal(exc):
                    self._close_all(clean=False)
                    raise
                self._recover(exc)
                dirty = False
            except TransactionError as exc:
                now = time.monotonic()
                recoveries = [t for t in recoveries if now - t < 60] + [now]
                failed_in_a_row += 1
                if len(recoveries) > _MAX_RECOVERIES or failed_in_a_row > _MAX_RECOVERIES:
                    raise
                if committer.rejected and not exc.fatal:
                    self._on_rejection(exc, current)
                self._recover(exc)
                dirty = False
            except StreamletError:
                self._abort_quietly()
                raise

    def _process_isolated(self, task: Task, msg: Any) -> None:
        """One record in its own transaction (or, if it was found to cause a rejection, the
        production policy applied to it instead)."""
        self._committer.begin()  # the commit carries this record's offset even without output
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        reason = self._isolation.take(topic, partition, offset)
        if reason is None:
            task.process(msg)
        else:
            task.reject(msg, ProductionError(reason), self.cfg.errors.production)
        self._commit(list(self._tasks.values()))
        self._isolation.committed(self._by_tp)

    def _on_rejection(self, exc: TransactionError, culprit: Any) -> None:
        """The broker rejected records of the failed transaction: find (isolate) or, found,
        apply the production policy to the input record that caused it."""
        if culprit is None or not self._isolation.active:
            self._isolation.start(self._tasks.values())
            return
        topic, partition, offset = culprit.topic(), culprit.partition(), culprit.offset()
        reason = f"the broker rejected an output of this record: {exc.message}"
        if self.cfg.errors.production is ErrorPolicy.FAIL:
            self._abort_quietly()
            self._close_all(clean=False)
            error = ProductionError(reason)
            error.topic, error.partition, error.offset = topic, partition, offset
            raise error from exc
        self._isolation.poison(topic, partition, offset, reason)

    def _next_batch(self) -> list[Any]:
        """What is queued, up to a batch, without waiting; when nothing is, wait for the first
        record only (``consume(n, timeout)`` would wait to fill the batch: latency at low
        rates)."""
        batch: list[Any] = self._consumer.consume(num_messages=_BATCH, timeout=0)
        if batch:
            return batch
        first = self._consumer.poll(0.05)
        if first is None:
            return []
        return [first, *self._consumer.consume(num_messages=_BATCH - 1, timeout=0)]

    def _on_consumer_error(self, msg: Any, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            task = self._by_tp.get((msg.topic(), msg.partition()))
            if task is not None and task.inputs is not None:
                task.inputs.reached_end(msg.topic())
            return
        failure = consumer_failure(err)
        if failure is not None:
            raise failure
        log.warning("consumer error: %s", err.str())

    def _commit(self, tasks: list[Task]) -> None:
        self._purger.committed(self._committer.commit(tasks, self._consumer))

    def request_commit(self) -> None:
        self._commit_requested = True

    def _fence_is_fatal(self, exc: ProducerFencedError) -> bool:
        """A fence proves a twin (stop) unless it may be the coordinator aborting a
        transaction that outlived its timeout (resume with a new producer); a static
        member's fence never is."""
        return isinstance(exc, InstanceFencedError) or not self._fences.timed_out(
            self._committer.transaction_age_s
        )

    def _abort_quietly(self) -> None:
        try:
            self._committer.abort()
        except ProducerFencedError as exc:  # never re-create: that would fence the new owner
            log.warning("abort failed: %s", exc)
        except TransactionError as exc:
            log.warning("abort failed (%s); re-creating the producer", exc)
            self._committer.recreate_producer()

    def _recover(self, exc: TransactionError) -> None:
        """Abort, close every task dirty, and resume all partitions from committed offsets."""
        log.warning("transaction failed, aborting and resuming from committed offsets: %s", exc)
        fatal = exc.fatal
        try:
            if not isinstance(exc, ProducerFencedError):  # else judged a timeout abort
                self._committer.abort()  # also tells a fenced producer from other fatal states
        except ProducerFencedError:
            if not self._fences.timed_out(self._committer.transaction_age_s):
                self._close_all(clean=False)
                raise
            fatal = True
        except TransactionError:
            fatal = True
        if fatal:
            self._committer.recreate_producer()
        partitions = [TopicPartition(t, p) for t, p in self._by_tp] + self._pending.partitions()
        self._close_all(clean=False)
        self._pending.assign(partitions)  # restored from the changelogs before they resume
        if partitions:
            rewind_to_committed(self._consumer, partitions)

    # -- rebalance ------------------------------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", _fmt(partitions))
        self._metrics.rebalanced()
        consumer.assign(partitions)  # now, not after the callback: pending tasks pause theirs
        self._pending.assign(partitions)  # restoring in the loop, never in this callback

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._pending.close()
        if not self._tasks:
            return
        log.info("revoked %s: committing first", _fmt(partitions))
        # the last lag of the revoked partitions, while their positions are still known: a
        # partition owned for less than a lag interval would otherwise never get a value
        self._metrics.refresh_lag(self._consumer)
        try:
            self._commit_final()
            clean = True
        except ProducerFencedError as exc:
            if self._fence_is_fatal(exc):
                self._abort_quietly()
                self._close_all(clean=False)
                raise
            # the commit outlived transaction.timeout.ms (blocked by a broker fault, seen in
            # the long cluster chaos run: 27 s) and the coordinator aborted it: not a twin
            log.warning("commit on revocation failed: %s", exc)
            self._committer.recreate_producer()
            clean = False
        except TransactionError as exc:
            log.warning("commit on revocation failed: %s", exc)
            self._abort_quietly()  # re-creates the producer when it is in a fatal state
            clean = False
        self._close_all(clean=clean)

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        log.warning("partitions lost %s: aborting, closing tasks dirty", _fmt(partitions))
        self._abort_quietly()
        self._close_all(clean=False)

    def _open_stores(self, task_id: str, sub: SubTopology, partition: int) -> list[RestoreTarget]:
        return open_store_partitions(
            self.topology, sub, partition, self._identity.app_dir / task_id
        )

    def _new_task(self, sub: SubTopology, partition: int, targets: list[RestoreTarget]) -> Task:
        task = Task(
            sub,
            partition,
            task_stores(self.topology, targets),
            self._committer.produce,
            self._counts.__getitem__,
            self.cfg.errors,
            self.cfg.dead_letter_topic,
            self.request_commit,
            global_stores=self._globals.views,
            cache=self._cache,
        )
        task.on_policy = self._metrics.policy_applied
        return task

    def _adopt(self, started: list[tuple[Task, list[TopicPartition]]]) -> None:
        """Run the tasks whose stores are restored (their partitions were just resumed)."""
        for task, partitions in started:
            self._tasks[task.task_id] = task
            for tp in partitions:
                self._by_tp[(tp.topic, tp.partition)] = task

    def _commit_final(self) -> None:
        """Commit, then record the exact changelog end offsets (a clean close follows)."""
        tasks = list(self._tasks.values())
        self._commit(tasks)
        self._committer.settle_offsets(tasks, self._consumer)

    def _close_all(self, *, clean: bool) -> None:
        """Close every task (the eager protocol revokes all partitions at once); a dirty close
        drops the uncommitted writes first."""
        self._metrics.take_consumed(self._tasks.values())
        for task in self._tasks.values():
            if not clean:
                task.discard()
            self.skipped += task.skipped
            task.close()
        self._tasks.clear()
        self._by_tp.clear()
        self._pending.close()


def _fmt(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
