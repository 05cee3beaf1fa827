"""``modelyard models ...``."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import Conflict, InvalidInput
from ._app import DbOpt, JsonOpt, ProjectOpt, app, open_from_cli
from ._render import console, emit_json, esc, iso, number, table, when

if TYPE_CHECKING:
    import pandas as pd

    from ..registry import Lineage
    from ..store import ModelVersion

models_app = typer.Typer(help="List, show, alias, try and delete model versions.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


class OutputFormat(StrEnum):
    """What ``models predict --output`` writes (by default the file's suffix decides)."""

    csv = "csv"
    json = "json"
    parquet = "parquet"


def _lineage(version: ModelVersion) -> Lineage | None:
    from ..registry import Lineage

    return Lineage.find(version)


def version_dict(v: ModelVersion, *, full: bool) -> dict[str, Any]:
    """A model version as JSON-ready data (``full``: with signature, lineage, metadata)."""
    lineage = _lineage(v)
    data: dict[str, Any] = {
        "model": v.model, "version": v.version, "ref": v.ref, "aliases": list(v.aliases),
        "primary_metric": lineage.primary_metric if lineage is not None else None,
        "metrics": v.metrics, "dataset": v.dataset_ref, "run_id": v.run_id,
        "format": v.format, "created_at": iso(v.created_at),
    }
    if full:
        data.update({
            "flavor": v.flavor, "sha256": v.blob_sha256, "code_version": v.code_version or None,
            "description": v.description, "signature": v.signature,
            "lineage": lineage.to_dict() if lineage is not None else None,
        })
    return data


@models_app.command("list")
def list_(json_out: JsonOpt = False, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """List registered models with their latest version and aliases."""
    with open_from_cli(project, db_url) as yard:
        found = yard.models.list()
    if json_out:
        emit_json([{"name": m.name, "latest_version": m.latest_version,
                    "aliases": dict(sorted(m.aliases.items())), "description": m.description,
                    "created_at": iso(m.created_at)} for m in found])
        return
    table("models", ["name", "latest", "aliases", "created"],
          [(m.name, m.latest_version,
            ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items())), when(m.created_at))
           for m in found])


@models_app.command()
def versions(name: str, json_out: JsonOpt = False, project: ProjectOpt = None,
             db_url: DbOpt = None) -> None:
    """List the versions of a model with their lineage and key metrics."""
    with open_from_cli(project, db_url) as yard:
        found = yard.models.versions(name)
    if json_out:
        emit_json([version_dict(v, full=False) for v in found])
        return
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
def show(ref: str, json_out: JsonOpt = False, project: ProjectOpt = None,
         db_url: DbOpt = None) -> None:
    """Show one version (ref: name, name@alias, name/versions/N): lineage, signature, metrics."""
    with open_from_cli(project, db_url) as yard:
        v = yard.models.get(ref)
    if json_out:
        emit_json(version_dict(v, full=True))
        return
    console().print(f"[bold]{esc(v.model)}[/] version {v.version}"
                    + (f"  aliases: {esc(', '.join(v.aliases))}" if v.aliases else ""))
    console().print(f"run {v.run_id or '-'}  dataset {v.dataset_ref or '-'}  code "
                    f"{v.code_version[:12] or '-'}  format {v.format}  sha256 "
                    f"{v.blob_sha256[:12]}  registered {when(v.created_at)}", markup=False)
    inputs = v.signature.get("inputs", [])
    table("signature: inputs", ["column", "type", "nullable"],
          [(c.get("name"), c.get("type"), "yes" if c.get("nullable") else "no")
           for c in inputs])
    outputs = v.signature.get("outputs", {})
    if outputs:
        console().print("outputs: " + json.dumps(outputs, default=str), markup=False)
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
    console().print(f"{name}@{alias_name} -> version {version}", markup=False)


@models_app.command()
def history(
    name: str,
    alias_name: Annotated[str | None, typer.Option("--alias", help="Only this alias.")] = None,
    json_out: JsonOpt = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Show how a model's aliases moved."""
    with open_from_cli(project, db_url) as yard:
        events = yard.models.alias_history(name, alias_name)
    if json_out:
        emit_json([{"at": iso(e.at), "alias": e.alias, "from_version": e.from_version,
                    "to_version": e.to_version, "reason": e.reason} for e in events])
        return
    table(f"alias history of {name}", ["when", "alias", "from", "to", "reason"],
          [(when(e.at), e.alias, e.from_version, e.to_version, e.reason) for e in events])


@models_app.command()
def predict(
    ref: str,
    input_path: Annotated[Path, typer.Option("--input", "-i",
                                             help="CSV, Parquet or JSON records.")],
    proba: Annotated[bool, typer.Option("--proba", help="Also give probabilities.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write every prediction to this file (.csv, .json records or "
        ".parquet), each beside its row id.")] = None,
    output_format: Annotated[OutputFormat | None, typer.Option(
        "--output-format", help="Format of --output (default: from its suffix).")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id-column", help="Input column that identifies a row, copied beside its "
        "prediction (given to the model only if it is an input). Default: the row's position, "
        "'row'.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows.")] = 20,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Load a version (its hash checked) and predict rows from a file."""
    fmt = _output_format(output, output_format) if output is not None else None
    frame = _read_input(input_path)
    if id_column is not None and id_column not in frame.columns:
        raise InvalidInput(f"--id-column {id_column!r} is not a column of {str(input_path)!r}; "
                           f"it has {', '.join(map(str, frame.columns[:10]))}")
    with open_from_cli(project, db_url) as yard:
        predictor = yard.models.load(ref)
        lineage = _lineage(predictor.version)
        target = lineage.target if lineage is not None else ""
        features = frame
        if target and target in features.columns:
            # A slice of the training data still holds the label; predicting ignores it.
            features = features.drop(columns=[target])
        if id_column is not None and id_column not in predictor.signature.columns:
            features = features.drop(columns=[id_column])
        predictions = predictor.predict(features)
        probabilities = predictor.predict_proba(features) if proba else None
    classes = list(predictor.classes or range(probabilities.shape[1])) \
        if probabilities is not None else []
    if output is not None and fmt is not None:
        result = _result_frame(frame, id_column, predictions, probabilities, classes)
        _write_predictions(result, output, fmt)
        console().print(f"wrote {len(result)} predictions by {predictor.version.ref} to "
                        f"{output} ({fmt.value})", markup=False, soft_wrap=True)
        return
    columns = [id_column or "row", "prediction", *(f"p({c})" for c in classes)]
    ids = frame[id_column] if id_column is not None else range(len(frame))
    rows = []
    for i, row_id in zip(range(min(limit, len(predictions))), ids, strict=False):
        row = [row_id, predictions[i]]
        if probabilities is not None:
            row += [f"{p:.4f}" for p in probabilities[i]]
        rows.append(row)
    table(f"{len(predictions)} predictions by {predictor.version.ref}", columns, rows)


def _read_input(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise InvalidInput(f"input file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".json"):
        raise InvalidInput(f"input must be .csv, .parquet or .json; got {suffix!r}")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"cannot read {str(path)!r}: {exc}") from exc


def _output_format(path: Path, chosen: OutputFormat | None) -> OutputFormat:
    """The format to write ``path`` in; checked before any model is loaded."""
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not "
                           "exist")
    if chosen is not None:
        return chosen
    by_suffix = {".csv": OutputFormat.csv, ".json": OutputFormat.json,
                 ".parquet": OutputFormat.parquet, ".pq": OutputFormat.parquet}
    found = by_suffix.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(f"cannot tell the format of --output {str(path)!r} from its suffix "
                           f"{path.suffix or '(none)'!r}; name it .csv, .json or .parquet, or "
                           "pass --output-format")
    return found


def _result_frame(frame: pd.DataFrame, id_column: str | None, predictions: Any,
                  probabilities: Any, classes: list[Any]) -> pd.DataFrame:
    """Row ids, predictions and (with --proba) one ``proba_<class>`` column per class."""
    import pandas as pd

    ids = frame[id_column].to_numpy() if id_column is not None else range(len(frame))
    result = pd.DataFrame({id_column or "row": ids})
    # a recommender predicts a list of items per row
    result["prediction"] = [p.tolist() for p in predictions] if predictions.ndim > 1 \
        else predictions
    if probabilities is not None:
        for j, c in enumerate(classes):
            result[f"proba_{c}"] = probabilities[:, j]
    return result


def _write_predictions(result: pd.DataFrame, path: Path, fmt: OutputFormat) -> None:
    """Write ``result`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if fmt is OutputFormat.csv:
            out = result.copy()
            if out["prediction"].map(lambda p: isinstance(p, list)).any():
                out["prediction"] = out["prediction"].map(json.dumps)
            out.to_csv(tmp, index=False)
        elif fmt is OutputFormat.parquet:
            result.to_parquet(tmp, index=False)
        else:
            import orjson

            tmp.write_bytes(orjson.dumps(result.to_dict(orient="records"), default=str,
                                         option=orjson.OPT_SERIALIZE_NUMPY))
        os.replace(tmp, path)
    except OSError as exc:
        raise InvalidInput(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


@models_app.command()
def delete(
    ref: Annotated[str, typer.Argument(help="name/versions/N, or a model name with --all.")],
    everything: Annotated[bool, typer.Option("--all", help="Delete the model and every "
                                             "version.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Also drop the aliases pointing at "
                                        "it (recorded in the alias history).")] = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Delete a model version (or a whole model); `modelyard gc` then frees its files."""
    with open_from_cli(project, db_url) as yard:
        if everything:
            yard.models.delete_model(ref)
            console().print(f"deleted model {ref}; run `modelyard gc` to free its files",
                            markup=False)
            return
        v = yard.models.get(ref)
        if v.aliases and not force:
            raise Conflict(_aliased(v))
        try:
            yard.models.delete_version(v.model, v.version, force=force)
        except Conflict as exc:  # an alias set meanwhile: say it in the CLI's words
            raise Conflict(_aliased(yard.models.get(v.ref))) from exc
    console().print(f"deleted {v.ref}; run `modelyard gc` to free its files", markup=False)


def _aliased(v: ModelVersion) -> str:
    return (f"{v.ref} is aliased as {', '.join(v.aliases)}; point the alias at another version "
            f"first (modelyard models alias {v.model} {v.aliases[0] if v.aliases else 'ALIAS'} "
            "VERSION), or use --force to remove the alias with it")
