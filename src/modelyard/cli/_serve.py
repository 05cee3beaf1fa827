"""``modelyard serve ...``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..config import load_settings
from ._app import DbOpt, ProjectOpt, app


@app.command()
def serve(
    refs: Annotated[list[str], typer.Argument(
        metavar="MODEL...", help="References to serve: fraud@champion, fraud/versions/2, churn.")],
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000].")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Server processes on the port, seen as one service (metrics, stats) [1].")] = None,
    max_batch_size: Annotated[int | None, typer.Option(
        help="Most rows per model call [64].")] = None,
    max_batch_wait_ms: Annotated[float | None, typer.Option(
        help="Longest wait for a batch to fill [2].")] = None,
    log_dir: Annotated[str | None, typer.Option(
        help="Prediction log folder or fsspec URL (s3://bucket/predictions) "
             "[the log_dir setting, else .modelyard/predictions].")] = None,
    log_level: Annotated[str, typer.Option(help="Server log level.")] = "info",
    ui: Annotated[bool, typer.Option(
        "--ui", help="Also serve the dashboard at /ui (one worker).")] = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Serve model versions behind a REST API until Ctrl-C or SIGTERM.

    POST /v1/models/{name}/predict, GET /v1/models, /health, /ready, /metrics; the schema
    of each model's request is at /docs.
    """
    from ..serve import serve as run

    overrides: dict[str, Any] = {"db_url": db_url, "serve_host": host, "serve_port": port,
                 "serve_workers": workers, "max_batch_size": max_batch_size,
                 "max_batch_wait_ms": max_batch_wait_ms}
    settings = load_settings(project, **overrides)
    run(refs, settings=settings, overrides=overrides, log_root=log_dir, log_level=log_level,
        extend=_mount_dashboard if ui else None)


def _mount_dashboard(app: Any, yard: Any, metrics: Any) -> None:
    from ..ui import mount_ui

    mount_ui(app, yard, path="/ui", metrics=metrics)
