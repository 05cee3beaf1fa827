"""``modelyard score MODEL DATASET``: batch predictions stored as a dataset version."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from ._app import DbOpt, JsonOpt, ProjectOpt, app, open_from_cli
from ._render import console, esc


@app.command()
def score(
    model: Annotated[str, typer.Argument(
        help="The model version: fraud@champion, fraud/versions/3.")],
    dataset: Annotated[str, typer.Argument(
        help="The dataset version to score: tx@4, tx@latest.")],
    executor: Annotated[str | None, typer.Option(
        "--executor", help="ray (Ray Data on the cluster at MODELYARD_RAY_ADDRESS, or a local "
                           "one started for this command) or local (chunks, in this process) "
                           "\\[ray when installed, else local].")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", help="Dataset the predictions go to [<dataset>-scored-<model>].")] = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", help="Rows per chunk (one Ray Data block each).")] = 10_000,
    predictions_only: Annotated[bool, typer.Option(
        "--predictions-only", help="Write only the predictions, not the input's columns.")
    ] = False,
    json_out: JsonOpt = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Score a whole dataset version and store the predictions as a new dataset version.

    The rows are checked against the model's signature first, as the prediction service
    checks a request; the new version's lineage (a run in experiment 'scoring') names the
    model version and the input version.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from ..distributed import RayCluster
    from ..distributed import score as run_scoring

    chosen = executor or ("ray" if importlib.util.find_spec("ray") else "local")
    with open_from_cli(project, db_url) as yard:
        rows = yard.datasets.get(dataset).n_rows
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console(),
                      disable=json_out) as bars:
            task = bars.add_task(f"score ({chosen})", total=rows)
            cluster = (RayCluster(yard.settings.ray_address or None) if chosen == "ray"
                       else None)
            try:
                result = run_scoring(yard, model, dataset, executor=chosen, output=output,
                                     batch_size=batch_size, keep_input=not predictions_only,
                                     on_rows=lambda n: bars.advance(task, n), cluster=cluster)
            finally:
                if cluster is not None:
                    cluster.close()
    if json_out:
        import json

        typer.echo(json.dumps({"output": result.output.ref, "model": result.model_version.ref,
                               "input": result.input.ref, "rows": result.rows,
                               "seconds": result.seconds, "executor": result.executor,
                               "run_id": result.run_id}))
        return
    console().print(
        f"[green]scored[/] {result.rows:,} rows of {esc(result.input.ref)} with "
        f"{esc(result.model_version.ref)} on {esc(result.executor)} in {result.seconds:.1f} s "
        f"-> {esc(result.output.ref)}  run {result.run_id[:12]}")
