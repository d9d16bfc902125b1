"""Worker processes started and watched from outside: ``fasstream serve`` with a known health port.

Used by ``fasstream demo`` (it sends only once its workers are ready) and by the chaos harness.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fasstream.stream.broker import free_port

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """One ``fasstream serve`` process (``flags``: ``--set`` keys) with its own metrics port, logging to
    ``log_dir/NAME.log``."""

    def __init__(self, bootstrap: str, model: Path, flags: dict, name: str, log_dir: Path | None = None,
                 log_level: str = "INFO"):
        self.name, self.port = name, free_port()
        sets = [f"{k}={v}" for k, v in {**flags, "worker_id": name}.items()]
        log = open(log_dir / f"{name}.log", "wb") if log_dir else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fasstream.cli", "serve", "--bootstrap-servers", bootstrap, "--model", str(model),
             "--metrics-port", str(self.port), "--log-level", log_level, "--set", *sets],
            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=log)
        self.paused, self.resume_at, self.killed = False, 0.0, False

    def health(self) -> dict | None:
        try:
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.paused:
            self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_ready(workers: list[WorkerProcess], timeout: float = 120.0) -> None:
    """Until every worker holds restored partitions (its /healthz says ready); raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [w.health() for w in workers]
        if all(s and s["ready"] and s["partitions"] and not s["restoring"] for s in states):
            return
        if not all(w.alive() for w in workers):
            raise RuntimeError(f"a worker exited: {[w.name for w in workers if not w.alive()]}")
        time.sleep(0.3)
    raise TimeoutError(f"workers not ready within {timeout:.0f} s: {states}")
