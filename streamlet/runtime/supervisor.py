"""``--workers N``: N worker processes under one parent.

The parent forwards SIGTERM/SIGINT to every worker, waits for them, and exits non-zero as
soon as one fails (stopping the others first), so a process manager sees the failure.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)


def supervise(worker_args: Sequence[Sequence[str]], grace_s: float = 60.0) -> int:
    """Start one process per argv in ``worker_args``; return the exit status to use."""
    procs = [subprocess.Popen([sys.executable, *args]) for args in worker_args]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.returncode not in (None, 0)]
            if failed and not stopping:
                status = failed[0].returncode or 1
                log.error(
                    "worker pid %d exited with %d; stopping the others",
                    failed[0].pid,
                    failed[0].returncode,
                )
                stopping = True
                for p in procs:
                    if p.poll() is None:
                        p.terminate()
            time.sleep(0.1)
        if status == 0:
            codes = [p.returncode for p in procs]
            status = next((c for c in codes if c != 0), 0)
            if status < 0:  # killed by a signal
                status = 128 - status
    finally:
        deadline = time.monotonic() + grace_s
        for p in procs:
            if p.poll() is None:
                try:
                    p.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status
