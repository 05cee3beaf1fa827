"""``modelyard serve ...``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from ..config import load_settings
from ._app import DbOpt, ProjectOpt, app


class Backend(StrEnum):
    """Where the server processes run."""

    local = "local"
    ray = "ray"


@app.command()
def serve(
    refs: Annotated[list[str], typer.Argument(
        metavar="MODEL...", help="References to serve: fraud@champion, fraud/versions/2, churn.")],
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000].")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Server processes on the port, seen as one service (metrics, stats) [1].")] = None,
    backend: Annotated[Backend, typer.Option(
        help="local: worker processes here; ray: Ray Serve replicas behind Ray Serve's proxy "
             "on --host/--port, on the cluster at MODELYARD_RAY_ADDRESS or a local one "
             "(needs the ray extra).")] = Backend.local,
    replicas: Annotated[int | None, typer.Option(
        help="Ray Serve replicas, seen as one service (metrics, stats); they run on this "
             "machine's node, sharing a folder here [2; --backend ray only].")] = None,
    replica_cpus: Annotated[float | None, typer.Option(
        help="CPUs Ray reserves for each replica [1; --backend ray only].")] = None,
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
    of each model's request is at /docs. With --backend ray the same service runs as Ray
    Serve replicas behind Ray Serve's proxy (docs/ray.md).
    """
    _check_backend(backend, workers=workers, replicas=replicas, replica_cpus=replica_cpus,
                   ui=ui)
    overrides: dict[str, Any] = {"db_url": db_url, "serve_host": host, "serve_port": port,
                 "serve_workers": workers, "max_batch_size": max_batch_size,
                 "max_batch_wait_ms": max_batch_wait_ms}
    settings = load_settings(project, **overrides)
    if backend is Backend.ray:
        from ..distributed import serve_replicas

        serve_replicas(refs, settings=settings, replicas=2 if replicas is None else replicas,
                       replica_cpus=1.0 if replica_cpus is None else replica_cpus,
                       overrides=overrides, log_root=log_dir, log_level=log_level)
        return
    from ..serve import serve as run

    run(refs, settings=settings, overrides=overrides, log_root=log_dir, log_level=log_level,
        extend=_mount_dashboard if ui else None)


def _check_backend(backend: Backend, *, workers: int | None, replicas: int | None,
                   replica_cpus: float | None, ui: bool) -> None:
    """Refuse options that do not go with the chosen backend (a usage error, exit 2)."""
    if backend is Backend.ray:
        if workers is not None:
            raise typer.BadParameter(
                "--workers is for --backend local; with --backend ray use --replicas N",
                param_hint="'--workers'")
        if ui:
            raise typer.BadParameter(
                "the dashboard mounts in a one-worker server; with --backend ray run "
                "`modelyard ui --server-url URL` beside it", param_hint="'--ui'")
        if replicas is not None and replicas < 1:
            raise typer.BadParameter(f"must be at least 1, not {replicas}",
                                     param_hint="'--replicas'")
        if replica_cpus is not None and replica_cpus < 0:
            raise typer.BadParameter(f"must be 0 or more, not {replica_cpus}",
                                     param_hint="'--replica-cpus'")
        return
    for given, name in ((replicas, "--replicas"), (replica_cpus, "--replica-cpus")):
        if given is not None:
            raise typer.BadParameter(
                f"{name} is for Ray Serve replicas: add --backend ray (or use --workers N "
                "for worker processes here)", param_hint=f"'{name}'")


def _mount_dashboard(app: Any, yard: Any, metrics: Any) -> None:
    from ..ui import mount_ui

    mount_ui(app, yard, path="/ui", metrics=metrics)
