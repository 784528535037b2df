"""The metrics endpoint scraped by a real Prometheus (Debian's package, via scripts/prometheus)
while two worker processes run an app on the real broker."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apps import value_json
from support import ROOT, WorkerProcess, produce, read_all, worker_env

pytestmark = pytest.mark.integration

N = 2000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Prometheus:
    """A Prometheus server scraping ``127.0.0.1:<target>`` every second."""

    def __init__(self, binary: str, directory: Path, target: int) -> None:
        self.port = _free_port()
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: streamlet\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        )
        self.log = directory / "prometheus.log"
        self._log_file = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{self.port}/-/ready")[0] != 200:
            assert self.proc.poll() is None, "prometheus exited:\n" + self.log.read_text()
            assert time.monotonic() < deadline, "prometheus not ready:\n" + self.log.read_text()
            time.sleep(0.2)

    def query(self, expr: str) -> list[dict[str, object]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr}
        )
        status, body = _get(url)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        result: list[dict[str, object]] = answer["data"]["result"]
        return result

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None  # type: ignore[index]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self._log_file.close()


@pytest.fixture
def prometheus_binary() -> str:
    ensure = subprocess.run(
        [str(ROOT / "scripts" / "prometheus"), "ensure"], capture_output=True, text=True
    )
    if ensure.returncode != 0:
        pytest.fail(f"no Prometheus server for this test: {ensure.stderr.strip()}")
    return ensure.stdout.strip().splitlines()[-1]


@pytest.fixture
def metrics_port() -> int:
    return _free_port()


@pytest.fixture
def prometheus(prometheus_binary: str, tmp_path: Path, metrics_port: int) -> Iterator[Prometheus]:
    server = Prometheus(prometheus_binary, tmp_path, metrics_port)
    yield server
    server.close()


def _wait_for(what: str, check: Callable[[], bool], worker: WorkerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert worker.alive(), worker.output()
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n" + worker.output()
        time.sleep(0.5)


def test_prometheus_scrapes_consumed_records_and_lag_back_to_zero_from_two_workers(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
    prometheus: Prometheus,
    metrics_port: int,
) -> None:
    src, out = make_topics("metrics-in", partitions=4), make_topics("metrics-out", partitions=4)
    produce(bootstrap, src, ((f"key-{n % 97}".encode(), value_json(n)) for n in range(N)))
    env = worker_env(bootstrap, unique("metrics"), src, out, tmp_path / "state", commit_ms=100)
    worker = WorkerProcess(
        "echo", env, tmp_path / "worker.log", "--workers", "2", "--metrics-port", str(metrics_port)
    )
    try:
        assert len(read_all(bootstrap, out, expect=N, timeout=90)) == N
        _wait_for(
            "sum(streamlet_records_consumed_total) to reach N",
            lambda: (prometheus.scalar("sum(streamlet_records_consumed_total)") or 0) >= N,
            worker,
            60,
        )
        _wait_for(
            "streamlet_consumer_lag_records of all 4 partitions back at 0",
            lambda: prometheus.scalar("count(streamlet_consumer_lag_records == 0)") == 4,
            worker,
            60,
        )
        consumed = prometheus.scalar("sum(streamlet_records_consumed_total)")
        if not prometheus.scalar("sum(streamlet_aborts_total)"):
            assert consumed == N  # no transaction aborted: nothing was consumed twice
        produced = prometheus.scalar(f'sum(streamlet_records_produced_total{{topic="{out}"}})')
        assert produced is not None and produced >= N
        assert (prometheus.scalar("sum(streamlet_commits_total)") or 0) > 0
        assert prometheus.scalar("sum(streamlet_commit_duration_seconds_count)")
        status, _ = _get(f"http://127.0.0.1:{metrics_port}/health")
        assert status == 200
    finally:
        code = worker.terminate()
    assert code == 0, worker.output()
