"""The parent of ``modelyard serve --workers N``: one listening socket, N worker processes,
each replaced when it dies, and a graceful stop on SIGTERM or Ctrl-C.

Why not uvicorn's own ``--workers``: its supervisor pings each child over a pipe and kills
one that does not answer within 5 s, and a child only answers once it has imported
everything, which on a busy 2-core machine takes longer than that: the children were
killed and restarted in a loop for tens of seconds ("Child process died"). It also offers
no hook when a child dies, which the aggregated metrics need (``mark_process_dead``).

Here the parent binds the socket once and hands it to every worker (a fresh Python
process, ``start_new_session`` so Ctrl-C reaches the parent only); all of them accept
from the same kernel queue, so a connection the kernel queued is never bound to a worker
that dies. A worker listens only once its models are loaded (``_worker``), so a
replacement takes no request it would answer with 503. The parent watches the children:

- one that exits is replaced at once (its live gauges are dropped; its counters stay,
  so the aggregated ``/metrics`` never goes backwards);
- one whose event loop stopped beating for ``hang_timeout_s`` is killed and replaced;
- one that dies before it ever got ready, three times in a row, stops the server: the
  app or its models are broken and a restart would only fail again.

Shared state lives in a private folder made for this server's life (removed at the end):
the Prometheus multiprocess files, each worker's ready marker and heartbeat, and the
SQLite file that merges rollout statistics, feedback scoring and live sketches
(``_shared``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, ModelyardError
from ._shared import SharedState

__all__ = ["WORKER_ENV", "Supervisor", "WorkerFailed"]

_LOG = logging.getLogger("modelyard.serve")

#: the environment variable that tells a worker process its place (JSON, see ``_worker``)
WORKER_ENV = "MODELYARD_SERVE_WORKER"
_BOOT = "from modelyard.serve._worker import run_worker; run_worker()"
_STARTUP_FAILURES = 3


class WorkerFailed(ModelyardError):
    """A worker process died before it was ready, again and again (exit code 1)."""

    http_status = 500
    exit_code = 1


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ready: bool = False
    failures: int = 0  # deaths before ready, in a row


class Supervisor:
    """Run ``workers`` server processes on one socket until SIGTERM or Ctrl-C.

    Args:
        host: the address to listen on.
        port: the TCP port (0: any free port; :attr:`port` tells which).
        workers: how many worker processes.
        spec: the environment variables every worker gets (the serve spec).
        hang_timeout_s: a ready worker whose event loop has not beaten for this long is
            killed and replaced.
        graceful_s: how long workers may take to drain on SIGTERM before they are killed.

    Raises:
        InvalidInput: the address cannot be bound (in use, or not an address here).

    Example:
        >>> Supervisor("127.0.0.1", 8000, 2, {SPEC_ENV: spec}).run()  # doctest: +SKIP
    """

    def __init__(self, host: str, port: int, workers: int, spec: dict[str, str], *,
                 hang_timeout_s: float = 30.0, graceful_s: float = 35.0) -> None:
        self.workers = workers
        self.hang_timeout_s = hang_timeout_s
        self.graceful_s = graceful_s
        self.sock = _bind(host, port)
        self.port = int(self.sock.getsockname()[1])
        self.dir = Path(tempfile.mkdtemp(prefix="modelyard-serve-"))
        self.shared = SharedState.create(self.dir, workers)
        self.started = time.time()
        self._spec = spec
        self._slots = [_Slot(i) for i in range(workers)]
        self._stop = threading.Event()
        self._announced = False

    def _environment(self, slot: _Slot) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(self._spec)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.shared.metrics_dir)
        env[WORKER_ENV] = json.dumps({
            "slot": slot.index, "workers": self.workers, "dir": str(self.dir),
            "fd": self.sock.fileno(), "parent": os.getpid(), "started": self.started})
        return env

    def _spawn(self, slot: _Slot) -> None:
        slot.proc = subprocess.Popen([sys.executable, "-c", _BOOT], env=self._environment(slot),
                                     pass_fds=[self.sock.fileno()], start_new_session=True)
        slot.started = time.monotonic()
        slot.ready = False

    def run(self) -> None:
        """Start the workers and keep them running until SIGTERM/SIGINT; blocks.

        Raises:
            WorkerFailed: a worker died before it was ready three times in a row.
        """
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            _LOG.info("serving on http://%s:%d with %d workers", *self.sock.getsockname()[:2],
                      self.workers)
            for slot in self._slots:
                self._spawn(slot)
            while not self._stop.wait(0.1):
                for slot in self._slots:
                    self._watch(slot)
        finally:
            self._stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.sock.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _on_signal(self, signum: int, frame: Any) -> None:
        _LOG.info("received %s; stopping %d workers", signal.Signals(signum).name, self.workers)
        self._stop.set()

    def _watch(self, slot: _Slot) -> None:
        proc = slot.proc
        assert proc is not None
        if not slot.ready and self.shared.ready_pid(slot.index) == proc.pid:
            slot.ready, slot.failures = True, 0
            if not self._announced and all(s.ready for s in self._slots):
                self._announced = True
                _LOG.info("all %d workers ready after %.1f s", self.workers,
                          time.time() - self.started)
        code = proc.poll()
        if code is None and slot.ready:
            beat = self.shared.heartbeat_age(slot.index)
            if beat is not None and beat > self.hang_timeout_s:
                _LOG.error("worker %d (pid %d) has not answered for %.0f s; killing it",
                           slot.index, proc.pid, beat)
                proc.kill()
                code = proc.wait()
        if code is None or self._stop.is_set():
            return
        self.shared.forget(slot.index, proc.pid)
        if not slot.ready:
            slot.failures += 1
            if slot.failures >= _STARTUP_FAILURES:
                self._stop.set()
                raise WorkerFailed(
                    f"worker {slot.index} died {slot.failures} times before it was ready "
                    f"(last exit code {code}); see its messages above, fix the cause, and "
                    "start the server again")
        _LOG.warning("worker %d (pid %d) exited with code %s; starting a replacement",
                     slot.index, proc.pid, code)
        self._spawn(slot)

    def _stop_all(self) -> None:
        """SIGTERM every worker (each drains its requests and flushes its log), then wait;
        kill the ones still running after ``graceful_s``."""
        running = [s.proc for s in self._slots if s.proc is not None and s.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_s
        for proc in running:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _LOG.error("worker pid %d did not stop in %.0f s; killing it", proc.pid,
                           self.graceful_s)
                proc.kill()
                proc.wait()


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, inheritable by the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}; stop what "
                           "listens there or choose another --port / --host") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
