"""``modelyard runs ...``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from ..errors import InvalidInput, NotFound
from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console, number, table, when


class RunStatus(StrEnum):
    """The states a run can be in (``--status`` of ``runs list``)."""

    running = "running"
    finished = "finished"
    failed = "failed"
    killed = "killed"


runs_app = typer.Typer(help="List, show and delete tracked runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def resolve_run(yard: Any, prefix: str) -> Any:
    """The run whose id is ``prefix`` or starts with it."""
    if len(prefix) == 32:
        return yard.runs.get(prefix)
    if len(prefix) < 4:
        raise InvalidInput(f"run id {prefix!r} is too short; give at least 4 characters")
    matches = yard.store.runs.ids_starting(prefix.lower())
    if not matches:
        raise NotFound(f"no run with id starting {prefix!r}; see `modelyard runs list`")
    if len(matches) > 1:
        raise InvalidInput(f"run id {prefix!r} matches several runs; "
                           "give more characters")
    return yard.runs.get(matches[0])


@runs_app.command("list")
def list_(
    experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 30,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """List runs, newest first, with their main metrics."""
    with open_from_cli(project, db_url) as yard:
        runs = yard.runs.list(experiment=experiment,
                              status=status.value if status else None, limit=limit)
    rows = []
    for r in runs:
        shown = ", ".join(f"{k}={number(v)}" for k, v in list(r.metrics.items())[:4])
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else ""
        rows.append((r.id[:12], r.name, r.experiment, _status(r.status), when(r.start_time),
                     duration, shown))
    table("runs", ["id", "name", "experiment", "status", "started", "took", "metrics"], rows)


def _status(status: str) -> str:
    colour = {"finished": "green", "failed": "red", "killed": "yellow", "running": "cyan"}
    return f"[{colour.get(status, 'white')}]{status}[/]"


@runs_app.command()
def show(run_id: str, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Show a run's params, metrics, tags, inputs, artifacts and environment."""
    with open_from_cli(project, db_url) as yard:
        run = resolve_run(yard, run_id)
    console().print(f"[bold]{run.name}[/] {run.id}  {_status(run.status)}  experiment "
                    f"{run.experiment}  started {when(run.start_time)}"
                    + (f"  parent {run.parent_id[:12]}" if run.parent_id else ""))
    if run.failure:
        console().print(f"[red]failure:[/] {run.failure}")
    table("params", ["name", "value"], sorted(run.params.items()))
    table("metrics (latest)", ["name", "value"],
          [(k, number(v)) for k, v in sorted(run.metrics.items())])
    if run.tags:
        table("tags", ["name", "value"], sorted(run.tags.items()))
    if run.inputs:
        table("inputs", ["dataset", "role"], [(i.dataset_ref, i.role) for i in run.inputs])
    if run.artifacts:
        table("artifacts", ["path", "size", "sha256"],
              [(a.path, a.size, a.blob_sha256[:12]) for a in run.artifacts])
    env = run.environment
    console().print(f"python {env.get('python', '?')}  git {run.git_commit[:12] or 'none'}")


@runs_app.command()
def metric(
    run_id: str, key: str, project: ProjectOpt = None, db_url: DbOpt = None
) -> None:
    """Show every logged value of one metric of a run."""
    with open_from_cli(project, db_url) as yard:
        run = resolve_run(yard, run_id)
        history = yard.runs.metric_history(run.id, key)
    table(f"{key} of run {run.id[:12]}", ["step", "value", "time"],
          [(m.step, number(m.value), when(m.timestamp)) for m in history])


@runs_app.command()
def delete(run_id: str, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Delete a run no model version was trained by (then `modelyard gc` frees its files)."""
    with open_from_cli(project, db_url) as yard:
        run = resolve_run(yard, run_id)
        yard.runs.delete(run.id)
    console().print(f"deleted run {run.id}; run `modelyard gc` to free its artifacts")
