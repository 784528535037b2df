"""Opening a task's store partitions: one RocksDB per (task, store) under the state dir."""

from __future__ import annotations

import logging
from pathlib import Path

from streamlet.errors import StateError, StoreLockedError
from streamlet.runtime.restore import RestoreTarget
from streamlet.runtime.task import TaskStore
from streamlet.state import BufferedStore, RocksDBStore
from streamlet.topology.topology import SubTopology, Topology

log = logging.getLogger(__name__)


def open_store_partitions(
    topology: Topology, sub: SubTopology, partition: int, task_dir: Path
) -> list[RestoreTarget]:
    """Open (or, when corrupt, wipe and recreate) every store of the task; when one is locked
    by another process, close those already open and raise ``StoreLockedError``."""
    targets: list[RestoreTarget] = []
    try:
        _open_each(topology, sub, partition, task_dir, targets)
    except StoreLockedError:  # release what did open: the caller retries the whole task
        for target in targets:
            target.buffered.close()
        raise
    return targets


def _open_each(
    topology: Topology,
    sub: SubTopology,
    partition: int,
    task_dir: Path,
    targets: list[RestoreTarget],
) -> None:
    for name in sub.stores:
        spec = topology.stores[name]
        path = task_dir / name

        def reopen_empty(path: Path = path, name: str = name) -> BufferedStore:
            RocksDBStore.destroy(path)
            return BufferedStore(RocksDBStore(path, name))

        try:
            backend: RocksDBStore | None = RocksDBStore(path, name)
        except StoreLockedError:
            raise
        except StateError as exc:  # corrupt: wipe it and restore from the beginning
            log.warning("store %s of task dir %s is unusable (%s): wiping it", name, task_dir, exc)
            backend = None
        buffered = BufferedStore(backend) if backend is not None else reopen_empty()
        targets.append(RestoreTarget(name, spec.changelog or "", partition, buffered, reopen_empty))


def task_stores(topology: Topology, targets: list[RestoreTarget]) -> dict[str, TaskStore]:
    """The typed view of each (restored) store partition."""
    out = {}
    for target in targets:
        out[target.store] = TaskStore(topology.stores[target.store], target.buffered)
    return out
