"""Running the prediction service: uvicorn, one or more worker processes, graceful SIGTERM.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and lets in-flight requests
finish; then the app's lifespan drains every batcher and closes the prediction log, so
every answered prediction is on disk before the process exits.

With ``workers > 1`` a supervisor (``_supervisor``) binds the socket and starts the worker
processes; each opens the yard and loads the models itself (the settings travel in the
environment variable ``MODELYARD_SERVE_SPEC``) and writes its own log files (the pid is in
their names), and they answer as one service: ``/metrics``, rollout stats, feedback
scoring and live drift merge across workers (``_shared``), and ``/ready`` waits for all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import InvalidInput
from ._asgi import UVICORN_OPTIONS
from ._supervisor import Supervisor
from ._worker import SPEC_ENV

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..yard import Yard

__all__ = ["serve"]


def serve(
    refs: list[str],
    *,
    settings: Settings,
    overrides: dict[str, Any] | None = None,
    log_root: str | Path | None = None,
    log_level: str = "info",
    extend: Callable[[FastAPI, Yard, Callable[[], bytes]], None] | None = None,
) -> None:
    """Serve ``refs`` until SIGTERM or Ctrl-C; blocks.

    Args:
        refs: the references to serve.
        settings: the settings in force (host, port, workers, batching, limits).
        overrides: the explicit settings (flags) to pass on to worker processes.
        log_root: where the prediction log goes (``<state_dir>/predictions``).
        log_level: uvicorn's log level.
        extend: called with the app, the yard and the server's ``/metrics`` text before it
            starts, to mount more on it (the CLI mounts the dashboard with ``--ui``); one
            worker only, since worker processes build their app from settings alone.

    Raises:
        NotFound: a reference that names nothing (checked before listening).
        InvalidInput: a bad reference, port or worker count, or ``extend`` with workers.

    Example:
        >>> serve(["fraud@champion"], settings=load_settings())  # doctest: +SKIP
    """
    import uvicorn

    if not 0 <= settings.serve_port <= 65535:
        raise InvalidInput(f"port {settings.serve_port} is not a TCP port (0-65535)")
    if settings.serve_workers < 1:
        raise InvalidInput(f"workers must be at least 1, not {settings.serve_workers}")
    if extend is not None and settings.serve_workers > 1:
        raise InvalidInput("the dashboard mounts in a one-worker server; with several "
                           "workers run `modelyard ui --server-url URL` beside it")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    common: dict[str, Any] = dict(host=settings.serve_host, port=settings.serve_port,
                                  log_level=log_level, **UVICORN_OPTIONS)
    from ..yard import Yard

    if settings.serve_workers == 1:
        from ._app import create_app

        yard = Yard(settings)
        try:
            app = create_app(yard, refs, log_root=log_root)
            if extend is not None:
                extend(app, yard, app.state.modelyard.metrics.render)
            uvicorn.Server(uvicorn.Config(app, **common)).run()
        finally:
            yard.close()
        return
    # Check the references once here, so a typo fails before any worker starts.
    with Yard(settings) as yard:
        for ref in refs:
            yard.models.get(ref)
    # The store migrated when it opened above: the workers open it at its head, not racing.
    spec = json.dumps({
        "project": str(settings.project_dir), "refs": refs, "log_level": log_level,
        "overrides": {k: v for k, v in (overrides or {}).items() if v is not None},
        "log_root": None if log_root is None else str(log_root)})
    Supervisor(settings.serve_host, settings.serve_port, settings.serve_workers,
               {SPEC_ENV: spec}).run()
