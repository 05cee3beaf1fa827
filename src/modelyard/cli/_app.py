"""The root Typer app: one sub-app per domain, one place that turns errors into a red line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import errors
from ._render import console, esc, fail

if TYPE_CHECKING:
    from ..yard import Yard

app = typer.Typer(
    name="modelyard",
    help="modelyard: data versions, tracked runs, a model registry, serving and monitoring.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

#: The name usage lines show, however the CLI was started (``python -m modelyard`` too).
PROG_NAME = "modelyard"

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-C", help="Project folder (default: the current directory)."),
]
DbOpt = Annotated[
    str | None, typer.Option("--db-url", help="SQLAlchemy URL of the metadata database.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout instead of tables (for scripts).")
]


def open_from_cli(project: Path | None, db_url: str | None = None) -> Yard:
    """Open the yard named by the common options (the SDK is imported here, on first use,
    so that ``--help`` and usage errors answer at once)."""
    from ..yard import open as open_yard

    return open_yard(project, db_url=db_url)


def version_string() -> str:
    """``modelyard <version>``: the installed distribution's version, else the package's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("modelyard")
    except PackageNotFoundError:
        from .. import __version__ as found
    return f"modelyard {found}"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_string())
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """modelyard: data versions, tracked runs, a model registry, serving and monitoring."""


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
            f"[green]ready[/] {esc(root)}  database: "
            f"{esc(yard.store.db.engine.url.render_as_string())} (schema {esc(revision)})  "
            f"artifacts: {esc(yard.store.artifacts.url)}"
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
           if report.orphan_files_deleted else ""), markup=False
    )


def _only_the_one_named(argv: list[str]) -> typer.Typer:
    """The root app with only the command or command group that ``argv`` starts with.

    Typer turns every command's annotations into click parameters before it runs any one
    (a fifth of a second for the whole tree); with the one named, ``runs list`` builds four.
    Anything else (no arguments, an option first, a name that is no command) gets the whole
    app, so the root help lists everything and a typo is answered with the names there are.
    """
    first = argv[0] if argv else ""
    groups = [g for g in app.registered_groups if g.name == first]
    commands = [c for c in app.registered_commands
                if str(c.name or getattr(c.callback, "__name__", "")).replace("_", "-") == first]
    if first.startswith("-") or not (groups or commands):
        return app
    one = typer.Typer(name=app.info.name, help=app.info.help, no_args_is_help=True,
                      add_completion=False, pretty_exceptions_enable=False)
    one.registered_callback = app.registered_callback
    one.registered_groups = groups
    one.registered_commands = commands
    return one


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a user's error is one red line and a non-zero exit, never a traceback.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: always but on success: 2 for a usage error (after the usage line), the
            error's ``exit_code`` for a :class:`~modelyard.errors.ModelyardError`, 130 when
            interrupted.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        modelyard 0.1.0
    """
    try:
        # Not standalone: our own errors reach the handler below instead of a traceback.
        chosen = _only_the_one_named(sys.argv[1:] if argv is None else argv)
        code = chosen(args=argv, prog_name=PROG_NAME, standalone_mode=False)
    except errors.ModelyardError as exc:
        fail(exc.message)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted")
        sys.exit(130)
    except Exception as exc:
        handled = _framework_exit(exc)
        if handled is None:
            raise
        sys.exit(handled)
    # A command's ``raise typer.Exit(n)`` comes back as n when not standalone.
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)


def _framework_exit(exc: BaseException) -> int | None:
    """Show an exception of typer's or click's (whichever version is installed: typer 0.29
    has its own classes, older ones raise click's) and return its exit code; None if it is
    someone else's, which is a bug and keeps its traceback."""
    package = type(exc).__module__.partition(".")[0]
    if package not in ("typer", "click"):
        return None
    code = getattr(exc, "exit_code", None)
    name = type(exc).__name__
    if name == "NoArgsIsHelpError":
        return 2  # the help is already printed, as typer's no_args_is_help does
    if name == "Abort":
        fail("aborted")
        return 130
    if callable(getattr(exc, "format_message", None)) and callable(getattr(exc, "show", None)):
        _show_usage_error(exc)
        return code if isinstance(code, int) else 1
    if isinstance(code, int):  # Exit
        return code
    return None


def _show_usage_error(exc: Any) -> None:
    """The usage line, where to find help, then one red ``error:`` line (as our own errors)."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        fail(str(exc.format_message()))
        return
    err = sys.stderr
    err.write(f"{ctx.get_usage()}\n")
    if ctx.command.get_help_option(ctx) is not None:
        err.write(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.\n")
    err.flush()
    fail(str(exc.format_message()))
