"""A worker's stable identity: ``<app>-<process-uuid>-<worker-index>``.

The process uuid lives in the state dir, so a worker restarted on the same state dir uses
the same transactional id and fences its crashed predecessor at once. Each index is held by
an exclusive file lock, so two live workers on one state dir never share an id.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from streamlet.errors import StateError


@dataclass
class WorkerIdentity:
    transactional_id: str
    index: int
    app_dir: Path
    _lock: IO[str]

    def release(self) -> None:
        self._lock.close()


def claim_identity(state_dir: Path, application_id: str, index: int) -> WorkerIdentity:
    """Lock the first free worker index at or above ``index`` and return its identity."""
    app_dir = state_dir / application_id
    app_dir.mkdir(parents=True, exist_ok=True)
    id_file = app_dir / "process.uuid"
    if not id_file.exists():
        tmp = app_dir / f".process.uuid.{os.getpid()}"
        tmp.write_text(uuid.uuid4().hex)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, id_file)  # atomic: the first writer wins
        tmp.unlink()
    process_uuid = id_file.read_text().strip()
    for candidate in range(index, index + 1024):
        handle = open(app_dir / f"worker-{candidate}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.write(str(os.getpid()))
        handle.flush()
        txn = f"{application_id}-{process_uuid}-{candidate}"
        return WorkerIdentity(txn, candidate, app_dir, handle)
    raise StateError(f"no free worker index in {app_dir}")
