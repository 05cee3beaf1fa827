"""``modelyard runs ...``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InvalidInput, NotFound
from ._app import DbOpt, JsonOpt, ProjectOpt, app, open_from_cli
from ._render import STATUS_STYLES, console, emit_json, esc, iso, number, styled, table, when

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.text import Text

    from ..store import Run, RunSummary

    #: what a run list holds: whole runs from the store, summaries from the glance
    RunLike = Run | RunSummary


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


def fitted_params(params: dict[str, str]) -> list[tuple[str, str, str]]:
    """A run's params as (name, value, note), with tuned values shown as the fitted ones.

    A tuned run logs the winning trial's values as ``best.<name>``; runs trained before the
    training code logged ``param.*`` after tuning kept the estimator's defaults there. Each
    ``param.<name>`` with a ``best.<name>`` takes that value (noted ``tuned``, with the
    default it replaced); a ``best.*`` that names no ``param.*`` is listed as it is.

    Args:
        params: the run's params as stored.

    Returns:
        Rows sorted by name; the ``best.*`` entries folded into the ``param.*`` they set.

    Example:
        >>> fitted_params({"param.learning_rate": "0.1", "best.learning_rate": "0.088"})
        [('param.learning_rate', '0.088', 'tuned (logged 0.1)')]
    """
    best = {k[len("best."):]: v for k, v in params.items() if k.startswith("best.")}
    used: set[str] = set()
    rows = []
    for key, value in sorted(params.items()):
        if key.startswith("best."):
            continue
        tuned = _tuned_name(key[len("param."):], best) if key.startswith("param.") else None
        if tuned is None:
            rows.append((key, value, ""))
            continue
        used.add(tuned)
        note = "tuned" if best[tuned] == value else f"tuned (logged {value})"
        rows.append((key, best[tuned], note))
    rows += [(f"best.{k}", v, "tuned") for k, v in sorted(best.items()) if k not in used]
    return sorted(rows)


def _tuned_name(name: str, best: dict[str, str]) -> str | None:
    """The ``best.*`` name that sets estimator param ``name`` (a search space may name it
    with its pipeline step, ``model__learning_rate``, or without)."""
    if name in best:
        return name
    for key in best:
        if key.endswith(f"__{name}") or name.endswith(f"__{key}"):
            return key
    return None


def _status(status: str) -> Text:
    return styled(status, STATUS_STYLES.get(status, "white"))


def run_dict(run: RunLike) -> dict[str, Any]:
    """A run as JSON-ready data: what ``runs list --json`` prints of each."""
    return {
        "id": run.id, "name": run.name, "experiment": run.experiment,
        "parent_id": run.parent_id, "status": run.status, "start_time": iso(run.start_time),
        "end_time": iso(run.end_time), "duration_s": run.duration_s, "metrics": run.metrics,
    }


def run_details(run: Run) -> dict[str, Any]:
    """A run as JSON-ready data with everything ``runs show`` prints."""
    data = run_dict(run)
    data.update({
        "failure": run.failure or None, "params": run.params,
        "fitted_params": {name: value for name, value, _ in fitted_params(run.params)},
        "tags": run.tags,
        "inputs": [{"dataset": i.dataset_ref, "role": i.role} for i in run.inputs],
        "artifacts": [{"path": a.path, "size": a.size, "sha256": a.blob_sha256}
                      for a in run.artifacts],
        "git_commit": run.git_commit or None, "host": run.host, "pid": run.pid,
        "environment": run.environment,
    })
    return data


@runs_app.command("list")
def list_(
    experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 30,
    json_out: JsonOpt = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """List runs, newest first, with their main metrics."""
    from ..config import load_settings
    from ..store import glance_runs

    which: dict[str, Any] = {"experiment": experiment,
                             "status": status.value if status else None, "limit": limit}
    # A SQLite store at the current schema is read without SQLAlchemy (a quarter second
    # to import); any other store is opened as usual.
    runs: Sequence[RunLike] | None = glance_runs(load_settings(project, db_url=db_url),
                                                 **which)
    if runs is None:
        with open_from_cli(project, db_url) as yard:
            runs = yard.runs.list(**which)
    if json_out:
        emit_json([run_dict(r) for r in runs])
        return
    rows = []
    for r in runs:
        shown = ", ".join(f"{k}={number(v)}" for k, v in list(r.metrics.items())[:4])
        duration = f"{r.duration_s:.1f}s" if r.duration_s is not None else ""
        rows.append((r.id[:12], r.name, r.experiment, _status(r.status), when(r.start_time),
                     duration, shown))
    table("runs", ["id", "name", "experiment", "status", "started", "took", "metrics"], rows)


@runs_app.command()
def show(run_id: str, json_out: JsonOpt = False, project: ProjectOpt = None,
         db_url: DbOpt = None) -> None:
    """Show a run: params as fitted (tuned values included), metrics, tags, inputs, files."""
    with open_from_cli(project, db_url) as yard:
        run = resolve_run(yard, run_id)
    if json_out:
        emit_json(run_details(run))
        return
    style = STATUS_STYLES.get(run.status, "white")
    console().print(f"[bold]{esc(run.name)}[/] {run.id}  [{style}]{esc(run.status)}[/]  "
                    f"experiment {esc(run.experiment)}  started {when(run.start_time)}"
                    + (f"  parent {run.parent_id[:12]}" if run.parent_id else ""))
    if run.failure:
        console().print(f"[red]failure:[/] {esc(run.failure)}")
    rows = fitted_params(run.params)
    if any(note for _, _, note in rows):
        table("params (as fitted: tuned values replace the defaults)",
              ["name", "value", "note"], rows)
    else:
        table("params", ["name", "value"], [(k, v) for k, v, _ in rows])
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
    console().print(f"python {env.get('python', '?')}  git {run.git_commit[:12] or 'none'}",
                    markup=False)


@runs_app.command()
def metric(
    run_id: str, key: str, json_out: JsonOpt = False, project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Show every logged value of one metric of a run."""
    with open_from_cli(project, db_url) as yard:
        run = resolve_run(yard, run_id)
        history = yard.runs.metric_history(run.id, key)
    if json_out:
        emit_json([{"step": m.step, "value": m.value, "timestamp": iso(m.timestamp)}
                   for m in history])
        return
    table(f"{key} of run {run.id[:12]}", ["step", "value", "time"],
          [(m.step, number(m.value), when(m.timestamp)) for m in history])


@runs_app.command()
def delete(run_id: str, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Delete a run no model version was trained by (then `modelyard gc` frees its files)."""
    with open_from_cli(project, db_url) as yard:
        run = resolve_run(yard, run_id)
        yard.runs.delete(run.id)
    console().print(f"deleted run {run.id}; run `modelyard gc` to free its artifacts")
