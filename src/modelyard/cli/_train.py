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
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Fit, evaluate, track and register a model as the spec says."""
    with open_from_cli(project, db_url) as yard:
        result = yard.train(spec, tune_trials=tune, progress=True,
                            aliases=tuple(alias) if alias else None)
    v = result.model_version
    console().print(f"[green]registered[/] {esc(v.ref)}"
                    + (f" ({esc(', '.join(v.aliases))})" if v.aliases else "")
                    + f"  run {result.run_id[:12]}  {esc(result.task)}")
    if result.best_params:
        console().print("best params (the model is fitted with them): " + ", ".join(
            f"{k}={number(val)}" for k, val in result.best_params.items()), markup=False)
    table("metrics (test set)", ["metric", "value"],
          [(k, number(val)) for k, val in result.metrics.items()])
