"""Session fixtures shared by every tier.

The broker fixture never skips: a test that needs Kafka and cannot get it fails with the
reason. It uses a running broker (``STREAMLET_BOOTSTRAP`` or ``scripts/kafka status``) and
otherwise starts one with the project's own script. The Schema Registry fixture does the
same with ``STREAMLET_REGISTRY_URL`` and ``scripts/registry``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "scripts" / "kafka"
REGISTRY_SCRIPT = ROOT / "scripts" / "registry"


def _broker_address() -> str:
    explicit = os.environ.get("STREAMLET_BOOTSTRAP")
    if explicit:
        return explicit
    status = subprocess.run([str(KAFKA_SCRIPT), "status"], capture_output=True, text=True)
    if status.returncode == 0:
        return status.stdout.strip()
    started = subprocess.run([str(KAFKA_SCRIPT), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(
            "the local Kafka broker could not be started by scripts/kafka start:\n"
            + started.stderr[-4000:]
        )
    return started.stdout.strip().splitlines()[-1]


def _registry_url() -> str:
    explicit = os.environ.get("STREAMLET_REGISTRY_URL")
    if explicit:
        return explicit
    status = subprocess.run([str(REGISTRY_SCRIPT), "status"], capture_output=True, text=True)
    if status.returncode == 0:
        return status.stdout.strip()
    started = subprocess.run([str(REGISTRY_SCRIPT), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(
            "the local Schema Registry could not be started by scripts/registry start:\n"
            + started.stderr[-4000:]
        )
    return started.stdout.strip().splitlines()[-1]


@pytest.fixture(autouse=True)
def _reap_workers() -> Iterator[None]:
    """Kill the worker subprocesses a test left running (a failed test must not leak them)."""
    yield
    from support import WorkerProcess

    for worker in WorkerProcess.live:
        if worker.alive():
            worker.kill()
    WorkerProcess.live.clear()


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """The bootstrap address of the real broker; an error (never a skip) when there is none."""
    return _broker_address()


@pytest.fixture(scope="session")
def registry_url() -> str:
    """The base URL of the real Schema Registry (Apicurio, Confluent API under
    ``/apis/ccompat/v7``); an error (never a skip) when there is none."""
    return _registry_url()


@pytest.fixture(scope="session")
def cluster() -> Any:
    """The 3-node cluster (``scripts/kafka --brokers 3``), started if it is not running; an
    error, never a skip, when it cannot be. Left running: ``.ci/run`` stops it at exit."""
    from cluster import start_cluster

    return start_cluster()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to this test run: topics, application ids, transactional ids."""
    run = uuid.uuid4().hex[:8]

    def make(stem: str) -> str:
        return f"t-{stem}-{run}"

    return make


@pytest.fixture
def make_topics(bootstrap: str, unique: Callable[[str], str]) -> Callable[..., str]:
    """Create a uniquely named topic: ``make_topics("input", partitions=4) -> name``."""
    from streamlet.kafka.admin import Admin

    admin = Admin(bootstrap)

    def make(stem: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = unique(stem)
        admin.ensure_topic(name, partitions, config or {})
        return name

    return make
