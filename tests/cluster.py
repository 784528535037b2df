"""The 3-node test cluster (``scripts/kafka --brokers 3``): start it, and SIGKILL or restart
one node by id. Tests get it through the session fixture ``cluster`` in conftest.py."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "scripts" / "kafka"
# ports of nodes 1..3 (scripts/kafka-cluster: STREAMLET_CLUSTER_PORT and the next two)
BASE_PORT = int(os.environ.get("STREAMLET_CLUSTER_PORT", "9192"))


def _script(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAFKA_SCRIPT), "--brokers", "3", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Cluster:
    bootstrap: str

    def node_of_port(self, port: int) -> int:
        return port - BASE_PORT + 1

    def kill_node(self, node: int) -> None:
        """SIGKILL node ``node`` (1-3): no shutdown, no leadership handed over."""
        done = _script("kill-node", str(node))
        if done.returncode != 0:
            raise RuntimeError(f"kill-node {node} failed: {done.stderr[-2000:]}")

    def start_node(self, node: int) -> None:
        """Restart node ``node`` and wait until it listens."""
        done = _script("start-node", str(node))
        if done.returncode != 0:
            raise RuntimeError(f"start-node {node} failed: {done.stderr[-2000:]}")

    def node_alive(self, node: int) -> bool:
        return _script("pid", str(node), timeout=30).returncode == 0


def start_cluster() -> Cluster:
    """The running cluster, or one started now; RuntimeError (a failure, never a skip) if not."""
    status = _script("status", timeout=30)
    if status.returncode == 0:
        return Cluster(status.stdout.strip())
    started = _script("start")
    if started.returncode != 0:
        raise RuntimeError(
            "the 3-node Kafka cluster could not be started by scripts/kafka --brokers 3 start:\n"
            + started.stderr[-4000:]
        )
    return Cluster(started.stdout.strip().splitlines()[-1])
