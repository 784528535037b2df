"""How each engine is prepared once (installed, built) and then launched for one spec."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from benchmarks.admin import TopicRequest
from benchmarks.engines.spec import EngineSpec

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
QUIX_VENV = BENCH / ".venv-quix"
QUIX_REQUIREMENT = "quixstreams==3.28.1"
KSTREAMS_DIR = BENCH / "peers" / "kafka-streams"
KSTREAMS_MAIN = "dev.streamlet.bench.StreamsBench"
JVM_HEAP = "-Xmx512m"
ENGINES = ("streamlet-1", "streamlet-2", "quix", "kafka-streams", "ceiling")  # the default
KNOWN_ENGINES = (*ENGINES, "streamlet-4")  # streamlet-4: the scaling row (--scaling)
SCALING_ENGINES = ("streamlet-1", "streamlet-2", "streamlet-4")


class EngineUnavailable(Exception):
    """The engine cannot run on this machine; the message says why."""


class Launcher(ABC):
    name: str

    @abstractmethod
    def prepare(self) -> None:
        """Install or build what the engine needs, once per harness run (cached across runs);
        raise ``EngineUnavailable`` when it cannot run here."""

    @abstractmethod
    def argv(self, spec: EngineSpec) -> list[str]:
        """The command that runs ``spec`` until SIGTERM."""

    # workload -> why this engine does not run it (a row with that note, not a failure)
    skips: ClassVar[Mapping[str, str]] = {}

    def topics(self, spec: EngineSpec, partitions: int) -> list[TopicRequest]:
        """Topics besides input and output that the harness must create for this engine."""
        return []

    def env(self, spec: EngineSpec) -> dict[str, str]:
        env = dict(os.environ)
        env.update(spec.to_env())
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return env


class Ceiling(Launcher):
    name = "ceiling"
    skips: ClassVar[Mapping[str, str]] = {
        "w5": "not run: W5's join needs a table store, which a bare loop does not have"
    }

    def prepare(self) -> None:
        """Nothing to build: it runs in the harness's own interpreter."""

    def argv(self, spec: EngineSpec) -> list[str]:
        return [sys.executable, "-m", "benchmarks.engines.ceiling"]

    def topics(self, spec: EngineSpec, partitions: int) -> list[TopicRequest]:
        wanted = []
        if spec.workload != "w1":
            wanted.append(TopicRequest(spec.changelog_topic, partitions, compact=True))
        if spec.workload == "w3":
            wanted.append(TopicRequest(spec.repartition_topic, partitions))
        return wanted


class Streamlet(Launcher):
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.name = f"streamlet-{workers}"
        self._cli = Path(sys.executable).parent / "streamlet"

    def prepare(self) -> None:
        if not self._cli.exists():
            raise EngineUnavailable(f"no `streamlet` command beside {sys.executable}")

    def argv(self, spec: EngineSpec) -> list[str]:
        target = "benchmarks.engines.streamlet_app:from_env"
        # e.g. BENCH_STREAMLET_ARGS="--metrics-port 9464" to measure the metrics' cost
        extra = os.environ.get("BENCH_STREAMLET_ARGS", "").split()
        return [str(self._cli), "run", target, "--workers", str(self.workers), *extra]


class Quix(Launcher):
    name = "quix"
    _python = QUIX_VENV / "bin" / "python"
    _stamp = QUIX_VENV / ".bench-requirement"

    def prepare(self) -> None:
        if self._python.exists() and _read(self._stamp) == QUIX_REQUIREMENT:
            return
        print(f"preparing quix: pip install {QUIX_REQUIREMENT} into {QUIX_VENV}", file=sys.stderr)
        if not self._python.exists():
            _run([sys.executable, "-m", "venv", str(QUIX_VENV)], REPO, "python -m venv")
        _run([str(self._python), "-m", "pip", "install", "-q", QUIX_REQUIREMENT], REPO, "pip")
        self._stamp.write_text(QUIX_REQUIREMENT)

    def argv(self, spec: EngineSpec) -> list[str]:
        return [str(self._python), "-m", "benchmarks.engines.quix"]


class KafkaStreams(Launcher):
    name = "kafka-streams"
    _target = KSTREAMS_DIR / "target"

    def prepare(self) -> None:
        if shutil.which("java") is None or shutil.which("mvn") is None:
            raise EngineUnavailable("java and mvn must be on PATH")
        stamp = self._target / ".bench-stamp"
        want = _sources_digest()
        if _read(stamp) == want and (self._target / "classpath.txt").exists():
            return
        print(f"preparing kafka-streams: mvn compile in {KSTREAMS_DIR}", file=sys.stderr)
        _run(
            [
                "mvn",
                "-q",
                "-B",
                "-Dstyle.color=never",
                "compile",
                "dependency:build-classpath",
                "-Dmdep.outputFile=target/classpath.txt",
            ],
            KSTREAMS_DIR,
            "mvn",
        )
        stamp.write_text(want)

    def argv(self, spec: EngineSpec) -> list[str]:
        classpath = (self._target / "classpath.txt").read_text().strip()
        return [
            "java",
            JVM_HEAP,
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            f"{self._target / 'classes'}{os.pathsep}{classpath}",
            KSTREAMS_MAIN,
        ]


def launcher_for(name: str) -> Launcher:
    if name == "ceiling":
        return Ceiling()
    if name == "quix":
        return Quix()
    if name == "kafka-streams":
        return KafkaStreams()
    if name.startswith("streamlet-") and name.removeprefix("streamlet-").isdigit():
        return Streamlet(int(name.removeprefix("streamlet-")))
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(KNOWN_ENGINES)}")


def _sources_digest() -> str:
    digest = hashlib.sha1()
    for path in [KSTREAMS_DIR / "pom.xml", *sorted((KSTREAMS_DIR / "src").rglob("*.java"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _run(argv: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailable(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        raise EngineUnavailable(f"{what} failed: {lines[-1] if lines else done.returncode}")
