"""The root Typer app: one sub-app per domain, one place that turns errors into a red line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import errors
from ..yard import Yard
from ..yard import open as open_yard
from ._render import console, fail

app = typer.Typer(
    name="modelyard",
    help="modelyard: data versions, tracked runs, a model registry, serving and monitoring.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-C", help="Project folder (default: the current directory)."),
]
DbOpt = Annotated[
    str | None, typer.Option("--db-url", help="SQLAlchemy URL of the metadata database.")
]


def open_from_cli(project: Path | None, db_url: str | None = None) -> Yard:
    """Open the yard named by the common options."""
    return open_yard(project, db_url=db_url)


@app.command()
def init(project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Create the project's store (.modelyard/) and a modelyard.toml if there is none."""
    root = (project or Path.cwd()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    toml = root / "modelyard.toml"
    if not toml.exists():
        toml.write_text(
            "# modelyard settings; environment variables MODELYARD_<NAME> override them.\n"
            '# db_url = "postgresql+psycopg://user@host/db"\n'
            '# artifacts = "s3://bucket/yard"\n',
            encoding="utf-8",
        )
    with open_from_cli(root, db_url) as yard:
        revision = yard.store.db.revision()
        console().print(
            f"[green]ready[/] {root}  database: {yard.store.db.engine.url.render_as_string()}"
            f" (schema {revision})  artifacts: {yard.store.artifacts.url}"
        )


@app.command()
def gc(
    project: ProjectOpt = None,
    db_url: DbOpt = None,
    grace_s: Annotated[
        float | None,
        typer.Option("--grace-s", help="Keep artifacts stored less than this long ago."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report.")] = False,
) -> None:
    """Delete artifacts that no run, dataset version or model version references."""
    with open_from_cli(project, db_url) as yard:
        report = yard.gc(grace_s=grace_s, dry_run=dry_run)
    verb = "would free" if dry_run else "freed"
    console().print(
        f"{verb} {report.blobs_deleted} of {report.blobs_total} artifacts "
        f"({report.bytes_freed / 1e6:.2f} MB); {report.blobs_referenced} still referenced"
        + (f"; removed {report.orphan_files_deleted} orphaned files"
           if report.orphan_files_deleted else "")
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a user's error is one red line and a non-zero exit, never a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except errors.ModelyardError as exc:
        fail(exc.message)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        fail("interrupted")
        sys.exit(130)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
