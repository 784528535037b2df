"""``--workers N``: N worker processes under one parent.

The parent forwards SIGTERM/SIGINT to every worker, waits for them, and exits non-zero as
soon as one fails (stopping the others first), so a process manager sees the failure. With a
metrics port it serves every worker's metrics from one endpoint: the workers write them to
files in a private directory (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)


def supervise(
    worker_args: Sequence[Sequence[str]], grace_s: float = 60.0, metrics_port: int | None = None
) -> int:
    """Start one process per argv in ``worker_args``; return the exit status to use."""
    metrics_dir = tempfile.mkdtemp(prefix="streamlet-metrics-") if metrics_port else None
    env = None
    if metrics_dir is not None:
        from streamlet.runtime.metrics_http import MULTIPROC_ENV

        env = {**os.environ, MULTIPROC_ENV: metrics_dir}
    procs: list[subprocess.Popen[bytes]] = []
    server = None
    if metrics_port is not None and metrics_dir is not None:
        from streamlet.runtime.metrics_http import MetricsServer, multiprocess_registry

        try:  # before any worker starts: a taken port fails at once, leaving nothing behind
            server = MetricsServer(
                metrics_port,
                lambda: bool(procs) and all(p.poll() is None for p in procs),
                multiprocess_registry(metrics_dir),
            )
        except Exception:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            raise
    procs += [subprocess.Popen([sys.executable, *args], env=env) for args in worker_args]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    dead: set[int] = set()
    try:
        while any(p.poll() is None for p in procs):
            if metrics_dir is not None:
                _mark_dead(procs, dead, metrics_dir)
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
        if server is not None:
            server.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return status


def _mark_dead(procs: Sequence[subprocess.Popen[bytes]], dead: set[int], directory: str) -> None:
    """A dead worker's live gauges (its lag) must stop counting; its counters stay summed."""
    from prometheus_client.multiprocess import mark_process_dead

    for p in procs:
        if p.returncode is not None and p.pid not in dead:
            dead.add(p.pid)
            mark_process_dead(p.pid, directory)  # type: ignore[no-untyped-call]
