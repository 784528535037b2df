"""The metrics endpoint: Prometheus text on ``/metrics``, ``/health`` for orchestrators.

Served from a daemon thread of the worker process (one worker) or of the supervisor
(``--workers N``: every worker's values, from prometheus_client's multiprocess files).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from streamlet.errors import ConfigError

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_registry(directory: str) -> CollectorRegistry:
    """A registry that aggregates the files the worker processes write in ``directory``."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


class MetricsServer:
    """``/metrics`` from ``registry``; ``/health`` is 200 while ``healthy()`` is true, else 503.
    ``port`` 0 picks a free port (see ``port`` after construction)."""

    def __init__(
        self,
        port: int,
        healthy: Callable[[], bool],
        registry: CollectorRegistry = REGISTRY,
        host: str = "",
    ) -> None:
        handler = _handler(registry, healthy)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on port {port}: {exc.strerror}") from None
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="streamlet-metrics", daemon=True
        )
        self._thread.start()
        log.info("serving metrics on :%d/metrics and :%d/health", self.port, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)


def _handler(
    registry: CollectorRegistry, healthy: Callable[[], bool]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/health":
                ok = healthy()
                self._send(200 if ok else 503, "text/plain", b"ok\n" if ok else b"unhealthy\n")
            else:
                self._send(404, "text/plain", b"try /metrics or /health\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a scrape a second would drown the worker's log

    return Handler


def in_multiprocess_mode() -> bool:
    """True in a worker whose supervisor serves the metrics."""
    return bool(os.environ.get(MULTIPROC_ENV))


def serve_worker_metrics(port: int | None, healthy: Callable[[], bool]) -> MetricsServer | None:
    """The endpoint of a worker that runs alone; None when there is no port, or when a
    supervisor serves every worker's metrics."""
    if port is None or in_multiprocess_mode():
        return None
    return MetricsServer(port, healthy)
