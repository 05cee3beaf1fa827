"""One worker process of ``modelyard serve --workers N`` (started by ``_supervisor``).

The worker builds the app as a single server would, then joins the others through the
shared folder (``_shared``): its metrics go to prometheus-client's multiprocess files, its
router and live views write and merge through the shared database, and ``/ready`` counts
the ready workers. It accepts connections on the parent's socket only once its models
are loaded (the app's start waits for them), writes its ready marker, and from then on
beats every second and flushes every ``FLUSH_S``. When the parent is gone it stops itself
as on SIGTERM (drain, flush the log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ._asgi import UVICORN_OPTIONS
from ._shared import FLUSH_S, SharedState
from ._state import ServeState

__all__ = ["SPEC_ENV", "Worker", "run_worker"]

#: the environment variable holding what to serve and how (JSON, written by ``serve``)
SPEC_ENV = "MODELYARD_SERVE_SPEC"
_WORKER_ENV = "MODELYARD_SERVE_WORKER"  # = _supervisor.WORKER_ENV
_BEAT_S = 1.0
_LOG = logging.getLogger("modelyard.serve")


class Worker:
    """The multi-worker side of one worker's app.

    Args:
        state: the app's state.
        shared: the server's shared folder.
        slot: this worker's slot (0 to workers - 1).
        parent: the supervisor's pid (the worker stops when it is gone); ``None`` for a
            Ray Serve replica, whose life Ray Serve keeps (``_replica``).
        started: when the server (the parent) started, epoch seconds.
    """

    def __init__(self, state: ServeState, shared: SharedState, slot: int, parent: int | None,
                 started: float) -> None:
        self.state = state
        self.shared = shared
        self.slot = slot
        self.parent = parent
        self.pid = os.getpid()
        self.started = started
        self._all_ready = False

    def install(self, app: FastAPI) -> None:
        """Join the app to the shared state: metrics, rollouts, live views, readiness."""
        self.state.workers = self
        self.state.metrics.started.set(self.started)
        self.state.router.share(self.shared, self.pid)
        self.state.live.share(self.shared, self.pid)
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            async with inner(app):
                await self._loaded()
                task = asyncio.get_running_loop().create_task(self._run(),
                                                              name="modelyard-worker")
                self.shared.mark_ready(self.slot, self.pid)
                try:
                    yield
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await self.state.router.flush()
            self.shared.close()

        app.router.lifespan_context = lifespan

    async def _loaded(self) -> None:
        """Wait until every served reference is loaded or failed to load."""
        served = self.state.table.served.values()
        while not all(s.current is not None or s.error for s in served):
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        beat = 0.0
        while True:
            await asyncio.sleep(FLUSH_S)
            now = time.monotonic()
            routes = bool(self.state.router.routes)
            if routes or now - beat >= _BEAT_S:
                try:
                    await self.state.router.flush()
                except Exception:  # the shared file briefly locked: the next tick retries
                    _LOG.exception("worker %d: flushing rollout stats", self.slot)
            if now - beat < _BEAT_S:
                continue
            beat = now
            self.shared.beat(self.slot)
            self.state.metrics.sync()
            await self.state.live.flush()
            if self.parent is not None and os.getppid() != self.parent:
                _LOG.error("worker %d: the server's parent process is gone; stopping",
                           self.slot)
                signal.raise_signal(signal.SIGTERM)

    def readiness(self) -> tuple[bool, dict[str, int]]:
        """Whether every worker has been ready (once all were, a worker being replaced
        does not make the service unready), and how many are ready now."""
        count = len(self.shared.live_pids())
        self._all_ready = self._all_ready or count >= self.shared.workers
        return self._all_ready, {"expected": self.shared.workers, "ready": count}


def run_worker() -> None:
    """The entry point of a worker process (``python -c`` from the supervisor)."""
    import uvicorn

    from ..yard import open as open_yard
    from ._app import create_app

    info = json.loads(os.environ[_WORKER_ENV])
    spec = json.loads(os.environ[SPEC_ENV])
    log_level = spec.get("log_level", "info")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    sock = socket.socket(fileno=int(info["fd"]))
    yard = open_yard(spec["project"], **spec["overrides"])
    try:
        app = create_app(yard, spec["refs"], log_root=spec.get("log_root"))
        shared = SharedState(Path(info["dir"]), int(info["workers"]))
        Worker(app.state.modelyard, shared, int(info["slot"]), int(info["parent"]),
               float(info["started"])).install(app)
        config = uvicorn.Config(app, log_level=log_level, **UVICORN_OPTIONS)
        uvicorn.Server(config).run(sockets=[sock])
        shared.close()
    finally:
        yard.close()
