"""``modelyard models ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..registry import Lineage
    from ..store import ModelVersion
from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console, number, table, when

models_app = typer.Typer(help="List, show, alias, try and delete model versions.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_(project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """List registered models with their latest version and aliases."""
    with open_from_cli(project, db_url) as yard:
        rows = [(m.name, m.latest_version,
                 ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items())),
                 when(m.created_at)) for m in yard.models.list()]
    table("models", ["name", "latest", "aliases", "created"], rows)


def _lineage(version: ModelVersion) -> Lineage | None:
    from ..registry import Lineage

    return Lineage.find(version)


@models_app.command()
def versions(name: str, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """List the versions of a model with their lineage and key metrics."""
    with open_from_cli(project, db_url) as yard:
        found = yard.models.versions(name)
    rows = []
    for v in found:
        lineage = _lineage(v)
        primary = lineage.primary_metric if lineage is not None else ""
        score = f"{primary}={number(v.metrics[primary])}" if primary in v.metrics else ""
        rows.append((v.version, ", ".join(v.aliases), score, v.dataset_ref or "",
                     (v.run_id or "")[:12], v.format, when(v.created_at)))
    table(f"versions of {name}",
          ["version", "aliases", "metric", "dataset", "run", "format", "created"], rows)


@models_app.command()
def show(ref: str, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Show one version (ref: name, name@alias, name/versions/N): lineage, signature, metrics."""
    with open_from_cli(project, db_url) as yard:
        v = yard.models.get(ref)
    console().print(f"[bold]{v.model}[/] version {v.version}"
                    + (f"  aliases: {', '.join(v.aliases)}" if v.aliases else ""))
    console().print(f"run {v.run_id or '-'}  dataset {v.dataset_ref or '-'}  code "
                    f"{v.code_version[:12] or '-'}  format {v.format}  sha256 "
                    f"{v.blob_sha256[:12]}  registered {when(v.created_at)}")
    inputs = v.signature.get("inputs", [])
    table("signature: inputs", ["column", "type", "nullable"],
          [(c.get("name"), c.get("type"), "yes" if c.get("nullable") else "no")
           for c in inputs])
    outputs = v.signature.get("outputs", {})
    if outputs:
        console().print("outputs: " + json.dumps(outputs, default=str))
    table("metrics", ["name", "value"],
          [(k, number(val)) for k, val in sorted(v.metrics.items())
           if isinstance(val, int | float)])


@models_app.command()
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    version: int,
    reason: Annotated[str, typer.Option(help="Why; kept in the alias history.")] = "",
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Point an alias (champion, challenger, any name) at a version, atomically."""
    with open_from_cli(project, db_url) as yard:
        yard.models.alias(name, alias_name, version, reason=reason or "set from the CLI")
    console().print(f"{name}@{alias_name} -> version {version}")


@models_app.command()
def history(
    name: str,
    alias_name: Annotated[str | None, typer.Option("--alias", help="Only this alias.")] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Show how a model's aliases moved."""
    with open_from_cli(project, db_url) as yard:
        events = yard.models.alias_history(name, alias_name)
    table(f"alias history of {name}", ["when", "alias", "from", "to", "reason"],
          [(when(e.at), e.alias, e.from_version, e.to_version, e.reason) for e in events])


@models_app.command()
def predict(
    ref: str,
    input_path: Annotated[Path, typer.Option("--input", "-i",
                                             help="CSV, Parquet or JSON records.")],
    proba: Annotated[bool, typer.Option("--proba", help="Also show probabilities.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many rows.")] = 20,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Load a version (its hash checked) and predict rows from a file."""
    import pandas as pd

    if not input_path.is_file():
        raise InvalidInput(f"input file {str(input_path)!r} does not exist")
    suffix = input_path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(input_path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(input_path)
        elif suffix == ".json":
            frame = pd.DataFrame(json.loads(input_path.read_text(encoding="utf-8")))
        else:
            raise InvalidInput(f"input must be .csv, .parquet or .json; got {suffix!r}")
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"cannot read {str(input_path)!r}: {exc}") from exc
    with open_from_cli(project, db_url) as yard:
        predictor = yard.models.load(ref)
        lineage = _lineage(predictor.version)
        target = lineage.target if lineage is not None else ""
        if target and target in frame.columns:
            # A slice of the training data still holds the label; predicting ignores it.
            frame = frame.drop(columns=[target])
        predictions = predictor.predict(frame)
        probabilities = predictor.predict_proba(frame) if proba else None
    columns = ["row", "prediction"]
    classes = predictor.signature.outputs.classes if proba else None
    if probabilities is not None:
        columns += [f"p({c})" for c in (classes or range(probabilities.shape[1]))]
    rows = []
    for i in range(min(limit, len(predictions))):
        row = [i, predictions[i]]
        if probabilities is not None:
            row += [f"{p:.4f}" for p in probabilities[i]]
        rows.append(row)
    table(f"{len(predictions)} predictions by {predictor.version.ref}", columns, rows)


@models_app.command()
def delete(
    ref: Annotated[str, typer.Argument(help="name/versions/N, or a model name with --all.")],
    everything: Annotated[bool, typer.Option("--all", help="Delete the model and every "
                                             "version.")] = False,
    force: Annotated[bool, typer.Option(help="Also drop aliases pointing at it.")] = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Delete a model version (or a whole model); `modelyard gc` then frees its files."""
    with open_from_cli(project, db_url) as yard:
        if everything:
            yard.models.delete_model(ref)
            console().print(f"deleted model {ref}; run `modelyard gc` to free its files")
            return
        v = yard.models.get(ref)
        yard.models.delete_version(v.model, v.version, force=force)
    console().print(f"deleted {v.ref}; run `modelyard gc` to free its files")
