"""``modelyard train SPEC``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console, esc, number, table


@app.command()
def train(
    spec: Annotated[Path, typer.Argument(help="A training spec: .toml, .yaml or .py.")],
    tune: Annotated[int | None, typer.Option(
        "--tune", help="Run N Optuna trials (each a child run) and keep the best.")] = None,
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", help="Point this alias at the new version (repeatable).")] = None,
    executor: Annotated[str | None, typer.Option(
        "--executor", help="Where tuning trials run: local (one after another here) or ray "
                           "(in parallel on the cluster at MODELYARD_RAY_ADDRESS, or a local "
                           "one started for this command) \\[the spec's executor, else local].")
    ] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Fit, evaluate, track and register a model as the spec says.

    The tuning study is kept beside the metadata database: a tuning job that was killed
    continues where it stopped when the same command runs again.
    """
    with open_from_cli(project, db_url) as yard:
        from ..distributed import open_executor
        from ..train import load_spec, study_storage
        from ..train import train as run_training

        loaded = load_spec(spec)
        url = yard.store.db.engine.url.render_as_string(hide_password=False)
        with open_executor(executor or loaded.executor,
                           address=yard.settings.ray_address or None) as chosen:
            result = run_training(yard, loaded, tune_trials=tune, progress=True,
                                  aliases=tuple(alias) if alias else None,
                                  executor=chosen, study_storage=study_storage(url))
    v = result.model_version
    console().print(f"[green]registered[/] {esc(v.ref)}"
                    + (f" ({esc(', '.join(v.aliases))})" if v.aliases else "")
                    + f"  run {result.run_id[:12]}  {esc(result.task)}")
    if result.best_params:
        console().print("best params (the model is fitted with them): " + ", ".join(
            f"{k}={number(val)}" for k, val in result.best_params.items()), markup=False)
    table("metrics (test set)", ["metric", "value"],
          [(k, number(val)) for k, val in result.metrics.items()])
