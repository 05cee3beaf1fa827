"""``modelyard ingest`` and ``modelyard datasets ...``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InvalidInput, NotFound, ValidationFailed
from ._app import DbOpt, JsonOpt, ProjectOpt, app, open_from_cli
from ._render import console, emit_json, esc, iso, number, table, when

if TYPE_CHECKING:
    from ..store import DatasetVersion
    from ..yard import Yard

class FileFormat(StrEnum):
    """Formats ``ingest`` reads (``--format``; by default the file's suffix decides)."""

    csv = "csv"
    parquet = "parquet"


datasets_app = typer.Typer(help="List, show, validate and delete dataset versions.",
                           no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@app.command()
def ingest(
    source: Annotated[str | None, typer.Argument(help="A CSV or Parquet file.")] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")] = "",
    sql: Annotated[str | None, typer.Option(help="A SQL query to ingest instead of a file.")]
    = None,
    source_url: Annotated[str | None, typer.Option(
        "--source-url", help="SQLAlchemy URL the --sql query runs against.")] = None,
    fmt: Annotated[FileFormat | None, typer.Option(
        "--format", help="Read the file as this (default: from its suffix).")] = None,
    description: Annotated[str, typer.Option(help="What the data is.")] = "",
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Ingest a file or a SQL query as a new, immutable dataset version."""
    if not name:
        raise InvalidInput("give the dataset a name with --name")
    if (source is None) == (sql is None):
        raise InvalidInput("give either a file to ingest or --sql QUERY with --source-url URL")
    if sql is not None and not source_url:
        raise InvalidInput("--sql needs --source-url, the SQLAlchemy URL to run it against")
    with open_from_cli(project, db_url) as yard:
        before = {v.id for v in _versions_or_empty(yard, name)}
        version = yard.datasets.ingest(source, name=name, format=fmt.value if fmt else None,
                                       sql=sql, db_url=source_url, description=description)
    note = "new version" if version.id not in before else "unchanged: same content as"
    console().print(f"[green]{note}[/] {esc(version.ref)}  {version.n_rows} rows x "
                    f"{version.n_columns} columns  hash {version.content_hash[:12]}")


def _versions_or_empty(yard: Yard, name: str) -> list[DatasetVersion]:
    try:
        return list(yard.datasets.versions(name))
    except NotFound:
        return []


def version_dict(version: DatasetVersion, *, full: bool) -> dict[str, Any]:
    """A dataset version as JSON-ready data (``full``: with its schema)."""
    data: dict[str, Any] = {
        "ref": version.ref, "dataset": version.dataset, "version": version.version,
        "n_rows": version.n_rows, "n_columns": version.n_columns,
        "content_hash": version.content_hash, "source": version.source,
        "created_at": iso(version.created_at),
    }
    if full:
        data["schema"] = version.schema
    return data


@datasets_app.command("list")
def list_(json_out: JsonOpt = False, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """List datasets with their newest version."""
    with open_from_cli(project, db_url) as yard:
        found = yard.datasets.list()
    if json_out:
        emit_json([{"name": d.name, "latest_version": d.latest_version,
                    "description": d.description, "created_at": iso(d.created_at)}
                   for d in found])
        return
    table("datasets", ["name", "latest", "description", "created"],
          [(d.name, d.latest_version, d.description, when(d.created_at)) for d in found])


@datasets_app.command()
def versions(name: str, json_out: JsonOpt = False, project: ProjectOpt = None,
             db_url: DbOpt = None) -> None:
    """List the versions of a dataset."""
    with open_from_cli(project, db_url) as yard:
        found = yard.datasets.versions(name)
    if json_out:
        emit_json([version_dict(v, full=False) for v in found])
        return
    table(f"versions of {name}", ["version", "rows", "columns", "hash", "source", "created"],
          [(v.ref, v.n_rows, v.n_columns, v.content_hash[:12], v.source, when(v.created_at))
           for v in found])


@datasets_app.command()
def show(ref: str, json_out: JsonOpt = False, project: ProjectOpt = None,
         db_url: DbOpt = None) -> None:
    """Show a version's schema and the runs that used it (ref: name, name@3, name@latest)."""
    with open_from_cli(project, db_url) as yard:
        version = yard.datasets.get(ref)
        runs = yard.datasets.runs_using(version.ref)
    if json_out:
        emit_json({**version_dict(version, full=True), "used_by_runs": list(runs)})
        return
    console().print(f"[bold]{esc(version.ref)}[/]  {version.n_rows} rows  hash "
                    f"{version.content_hash[:12]}  from {esc(version.source or '?')}")
    rows = []
    for col in version.schema.get("columns", []):
        span = ""
        if col.get("min") is not None:
            span = f"{number(col['min'])} .. {number(col['max'])}"
        cats = col.get("categories") or []
        rows.append((col["name"], col["type"], "yes" if col.get("nullable") else "no",
                     col.get("null_count", ""), span,
                     ", ".join(map(str, cats[:6])) + (" ..." if len(cats) > 6 else "")))
    table("schema", ["column", "type", "nullable", "nulls", "range", "categories"], rows)
    console().print("used by runs: " + (", ".join(r[:12] for r in runs) or "none"))


@datasets_app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A CSV or Parquet file to check.")],
    against: Annotated[str, typer.Option("--against", "-a", help="Dataset ref whose schema "
                                         "the file must follow.")],
    json_out: JsonOpt = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Check a file against a dataset version's schema; list every violation.

    Exits 0 when the file follows the schema and 2 when it breaks it (one red line on
    stderr after the table or JSON), so a pipeline step can gate on it.
    """
    with open_from_cli(project, db_url) as yard:
        report = yard.datasets.validate(path, against)
    if json_out:
        emit_json({"path": str(path), "against": report.against, "ok": report.ok,
                   "n_rows": report.n_rows, "violations": [dict(v) for v in report.violations]})
    if report.ok:
        if not json_out:
            console().print(f"[green]valid[/]: {esc(path)} follows the schema of {esc(against)}")
        return
    if not json_out:
        table(f"{_plural(len(report.violations), 'violation')} in {path}",
              ["column", "rule", "count", "examples"],
              [(v["column"], v["rule"], v["count"], ", ".join(map(str, v.get("examples", []))))
               for v in report.violations])
    raise ValidationFailed(
        f"{path} breaks the schema of {against}: {_plural(len(report.violations), 'violation')}"
        f" in {len({v['column'] for v in report.violations})} column(s); fix the file, or "
        "ingest it as a new version if the schema should change",
        [dict(v) for v in report.violations])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@datasets_app.command()
def delete(ref: str, project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Delete a dataset version nothing uses (then `modelyard gc` frees its data)."""
    with open_from_cli(project, db_url) as yard:
        version = yard.datasets.get(ref)
        yard.datasets.delete_version(version.ref)
    console().print(f"deleted {version.ref}; run `modelyard gc` to free its storage",
                    markup=False)
