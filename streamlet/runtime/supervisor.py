"""``--workers N``: N worker processes under one parent.

The parent forwards SIGTERM/SIGINT to every worker and waits for them. A worker that dies
abnormally (an error a restart may cure, or killed by a signal: SIGKILL, the OOM killer) is
replaced after a backoff (1 s, doubling to 30 s), at most 5 times within 60 s; beyond that,
or when a worker exits with a fatal status (``exitcodes.FATAL``: a FAIL-policy record, a
fenced identity, a configuration error), the parent stops the others and exits with that
status (``EXIT_RESTARTS_EXHAUSTED`` for the first), so a process manager sees why.

With a metrics port the parent serves every worker's metrics from one endpoint: the workers
write them to files in a private directory (prometheus_client's multiprocess mode).
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
from collections.abc import Mapping, Sequence

from streamlet.runtime.exitcodes import EXIT_RESTARTS_EXHAUSTED, FATAL

log = logging.getLogger(__name__)

_RESTARTS = 5
_WINDOW_S = 60.0
_FIRST_BACKOFF_S = 1.0
_MAX_BACKOFF_S = 30.0


class _Slot:
    """One worker index: its current process and its restart history."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str] | None) -> None:
        self.args = list(args)
        self._env = env
        self.proc: subprocess.Popen[bytes] | None = self._spawn()
        self.restarts: list[float] = []
        self.due: float | None = None  # when a replacement starts

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, *self.args], env=self._env)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def schedule_restart(self, now: float) -> bool:
        """Plan a replacement with backoff; False once the restart limit is reached."""
        self.restarts = [t for t in self.restarts if now - t < _WINDOW_S]
        if len(self.restarts) >= _RESTARTS:
            return False
        backoff = min(_FIRST_BACKOFF_S * 2 ** len(self.restarts), _MAX_BACKOFF_S)
        self.restarts.append(now)
        self.due = now + backoff
        return True

    def restart_if_due(self, now: float) -> None:
        if self.due is not None and now >= self.due:
            self.due = None
            self.proc = self._spawn()
            log.info("worker replaced: new pid %d", self.proc.pid)


def supervise(
    worker_args: Sequence[Sequence[str]], grace_s: float = 60.0, metrics_port: int | None = None
) -> int:
    """Start one process per argv in ``worker_args``; return the exit status to use."""
    metrics_dir = tempfile.mkdtemp(prefix="streamlet-metrics-") if metrics_port else None
    env = None
    slots: list[_Slot] = []
    server = None
    if metrics_port is not None and metrics_dir is not None:
        from streamlet.runtime.metrics_http import (
            MULTIPROC_ENV,
            MetricsServer,
            multiprocess_registry,
        )

        env = {**os.environ, MULTIPROC_ENV: metrics_dir}
        try:  # before any worker starts: a taken port fails at once, leaving nothing behind
            server = MetricsServer(
                metrics_port,
                lambda: bool(slots) and all(slot.running() for slot in slots),
                multiprocess_registry(metrics_dir),
            )
        except Exception:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            raise
    slots += [_Slot(args, env) for args in worker_args]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for slot in slots:
            slot.due = None
            if slot.running():
                assert slot.proc is not None
                slot.proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        while any(slot.running() or slot.due is not None for slot in slots):
            now = time.monotonic()
            for slot in slots:
                status = status or _watch(slot, now, stopping, metrics_dir)
                if status and not stopping:
                    stopping = True
                    _stop_all(slots)
                if not stopping:
                    slot.restart_if_due(now)
            time.sleep(0.1)
    finally:
        deadline = time.monotonic() + grace_s
        for slot in slots:
            if slot.running():
                assert slot.proc is not None
                try:
                    slot.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    slot.proc.kill()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if server is not None:
            server.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return status


def _watch(slot: _Slot, now: float, stopping: bool, metrics_dir: str | None) -> int:
    """Deal with an exited worker; a non-zero return is the status to stop the app with."""
    proc = slot.proc
    if proc is None or proc.poll() is None:
        return 0
    code = proc.returncode
    slot.proc = None
    if metrics_dir is not None:
        _mark_dead(proc.pid, metrics_dir)
    if code == 0:
        return 0
    shown = f"signal {-code}" if code < 0 else f"status {code}"
    if stopping:
        return 0 if code < 0 else code  # terminated while stopping: not a new failure
    if code in FATAL:
        log.error("worker pid %d exited with %s (fatal); stopping the others", proc.pid, shown)
        return code
    if slot.schedule_restart(now):
        log.warning("worker pid %d died (%s); restarting it", proc.pid, shown)
        return 0
    log.error(
        "worker pid %d died (%s): more than %d restarts in %.0f s; stopping the others",
        proc.pid,
        shown,
        _RESTARTS,
        _WINDOW_S,
    )
    return EXIT_RESTARTS_EXHAUSTED


def _mark_dead(pid: int, directory: str) -> None:
    """A dead worker's live gauges (its lag) must stop counting; its counters stay summed."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _stop_all(slots: list[_Slot]) -> None:
    for slot in slots:
        slot.due = None
        if slot.running():
            assert slot.proc is not None
            slot.proc.terminate()
