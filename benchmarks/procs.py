"""An engine as a subprocess tree: start it, sample its memory, stop it.

Each engine starts in a session of its own, so the processes it spawns (streamlet's workers,
the JVM's helpers) share its session id: peak RSS is the largest sum of the resident set
sizes of every process in that session, sampled from ``/proc`` every 100 ms (and, per worker,
the largest resident set of any one process of it), and stopping it signals that whole process
group (and nothing else).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

_SAMPLE_S = 0.1
_PAGE = os.sysconf("SC_PAGE_SIZE")


def session_rss_bytes(session_id: int) -> dict[int, int]:
    """The resident memory of every live process in ``session_id``, by pid."""
    sizes: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, session, ... rss.
        rest = raw[raw.rfind(b")") + 2 :].split()
        if int(rest[3]) == session_id:
            sizes[int(entry.name)] = int(rest[21]) * _PAGE
    return sizes


class EngineProcess:
    def __init__(self, argv: list[str], env: Mapping[str, str], cwd: Path, log_dir: Path) -> None:
        self.argv = argv
        self._env = dict(env)
        self._cwd = cwd
        self.log_dir = log_dir
        self.started_at = 0.0
        self.peak_rss_bytes = 0  # the largest sum over the session's processes
        self.peak_process_rss_bytes = 0  # the largest resident set of any one process
        self.pids: set[int] = set()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.log_dir / "argv").write_text(" ".join(self.argv) + "\n")
        with (
            open(self.log_dir / "stdout", "wb") as out,
            open(self.log_dir / "stderr", "wb") as err,
        ):
            self.started_at = time.time()
            self._proc = subprocess.Popen(
                self.argv,
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self._sampling.set()
        self._sampler = threading.Thread(target=self._sample, args=(self._proc.pid,), daemon=True)
        self._sampler.start()

    def _sample(self, session_id: int) -> None:
        while self._sampling.is_set():
            sizes = session_rss_bytes(session_id)
            self.pids.update(sizes)
            self.peak_rss_bytes = max(self.peak_rss_bytes, sum(sizes.values()))
            self.peak_process_rss_bytes = max(
                self.peak_process_rss_bytes, max(sizes.values(), default=0)
            )
            time.sleep(_SAMPLE_S)

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left of it after ``grace_s``."""
        self._sampling.clear()
        if self._sampler is not None:
            self._sampler.join()
        if self._proc is None:
            return
        pgid = self._proc.pid
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=grace_s)
        _signal_group(pgid, signal.SIGKILL)
        self._proc.wait()

    def failure(self) -> str:
        """A one-line reason from the tail of the process's stderr."""
        code = self.returncode
        lines = [
            line.strip()
            for line in (self.log_dir / "stderr").read_text(errors="replace").splitlines()
            if line.strip()
        ]
        tail = lines[-1] if lines else "no output on stderr"
        prefix = f"exit {code}: " if code is not None else ""
        return (prefix + tail)[:160]


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)
