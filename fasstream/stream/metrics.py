"""Prometheus metrics and the health endpoint of a worker (one small HTTP server: /metrics, /healthz)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGES = ("decode", "face", "queue", "model_batch", "publish", "end_to_end")
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The worker's counters, histograms and gauges in their own registry."""

    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.received = Counter("fas_sessions_received", "sessions whose first chunk was read", registry=r)
        self.done = Counter("fas_sessions_done", "results published, by status", ["status"], registry=r)
        self.failed = Counter("fas_sessions_failed", "sessions that ended in an error, by reason", ["reason"],
                              registry=r)
        self.redelivered = Counter("fas_sessions_redelivered", "finished sessions read again and republished",
                                   registry=r)
        self.deferred = Counter("fas_sessions_deferred", "new sessions put off (no room) to be read again later",
                                registry=r)
        self.chunks = Counter("fas_chunks_received", "chunk messages read", registry=r)
        self.dead_letters = Counter("fas_dead_letters", "messages sent to the dead-letter topic", registry=r)
        self.stage = Histogram("fas_stage_seconds", "time per stage (per session; model_batch per batch)",
                               ["stage"], buckets=_SECONDS, registry=r)
        self.batch_size = Histogram("fas_batch_size", "clips per model batch", buckets=(1, 2, 4, 8, 16, 32, 64),
                                    registry=r)
        self.open_sessions = Gauge("fas_open_sessions", "sessions being decoded or scored", registry=r)
        self.queued_clips = Gauge("fas_queued_clips", "clips waiting for the face or model stage", registry=r)
        self.lag = Gauge("fas_consumer_lag", "messages between the commit point and the partition end", ["partition"], registry=r)
        self.rebalances = Counter("fas_rebalances", "partition assignment changes", registry=r)


class _Handler(BaseHTTPRequestHandler):
    metrics: Metrics
    health: Callable[[], tuple[bool, dict]]

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/metrics":
            body, code, kind = generate_latest(self.metrics.registry), 200, CONTENT_TYPE_LATEST
        elif self.path == "/healthz":
            ok, detail = self.health()
            body, code, kind = json.dumps(detail).encode(), 200 if ok else 503, "application/json"
        else:
            body, code, kind = b"try /metrics or /healthz\n", 404, "text/plain"
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_http(host: str, port: int, metrics: Metrics, health: Callable[[], tuple[bool, dict]]) -> ThreadingHTTPServer:
    """Start /metrics and /healthz on a daemon thread; ``server.server_port`` is the bound port."""
    handler = type("Handler", (_Handler,), {"metrics": metrics, "health": staticmethod(health)})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
