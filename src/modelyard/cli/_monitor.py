"""``modelyard monitor ...``: drift, quality, health and alerts of a served model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console, table, when


class _DefaultCheck(TyperGroup):
    """``modelyard monitor fraud`` means ``modelyard monitor check fraud``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


monitor_app = typer.Typer(
    cls=_DefaultCheck, no_args_is_help=True,
    help="Monitor a served model: `modelyard monitor MODEL` checks it (drift, quality on "
         "delayed labels, latency, errors, alerts); `alerts`, `windows` read what is stored.")
app.add_typer(monitor_app, name="monitor")


@monitor_app.command()
def check(
    model: Annotated[str, typer.Argument(help="The model name.")],
    window: Annotated[str | None, typer.Option(
        help="hourly, daily or last:N \\[monitor_window, daily].")] = None,
    since: Annotated[str | None, typer.Option(
        help="Predictions from this time (ISO 8601 or epoch seconds).")] = None,
    until: Annotated[str | None, typer.Option(help="Predictions before this time.")] = None,
    reference: Annotated[str | None, typer.Option(
        help="Compare with: a version (fraud@3) whose training data is used, or "
             "window:START/END of the log \\[the champion's training data].")] = None,
    html: Annotated[Path | None, typer.Option(
        help="Also write a self-contained HTML report here.")] = None,
    webhook: Annotated[str | None, typer.Option(
        help="Post opened/resolved alerts here \\[alert_webhook_url].")] = None,
    server_url: Annotated[str | None, typer.Option(
        help="The server (http://host:port) whose /metrics gives error counts.")] = None,
    rule: Annotated[list[str] | None, typer.Option(
        help="Alert rule MEASURE>THRESHOLD, repeatable (e.g. feature_psi>0.2); "
             "replaces the defaults.")] = None,
    no_alerts: Annotated[bool, typer.Option("--no-alerts", help="Apply no alert rules.")]
    = False,
    log_dir: Annotated[str | None, typer.Option(
        help="Prediction log folder or fsspec URL (s3://bucket/predictions) "
             "[the log_dir setting, else .modelyard/predictions].")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
    = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Evaluate the logged predictions window by window, store the results, raise alerts."""
    import json

    with open_from_cli(project, db_url) as yard:
        report = yard.monitor.check(
            model, window=window, since=since, until=until, reference=reference,
            log_root=log_dir, rules=rule or None, alerts=not no_alerts, webhook_url=webhook,
            server_url=server_url)
        if html is not None:
            yard.monitor.write_html(report, html)
    if json_out:
        console().print_json(json.dumps(report.to_dict(), default=_plain))
    else:
        from ..monitor import print_report

        print_report(report, console())
    if html is not None:
        console().print(f"report written to {html}")


@monitor_app.command()
def alerts(
    model: Annotated[str, typer.Argument(help="The model name.")],
    all_: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """List a model's alert incidents (open ones by default), newest first."""
    with open_from_cli(project, db_url) as yard:
        found = yard.monitor.alerts(model, status=None if all_ else "open")
    table(f"alerts of {model}", ["id", "status", "rule", "subject", "value", "opened",
                                 "last seen", "resolved"],
          [(a.id, a.status, a.rule, a.subject, f"{a.value:.4g}" if a.value is not None
            else "", when(a.opened_at), when(a.last_seen_at), when(a.resolved_at))
           for a in found])


@monitor_app.command()
def windows(
    model: Annotated[str, typer.Argument(help="The model name.")],
    window: Annotated[str | None, typer.Option(help="Only hourly, daily or last:N.")] = None,
    limit: Annotated[int, typer.Option(help="The newest this many.")] = 48,
    html: Annotated[Path | None, typer.Option(
        help="Write the stored windows as an HTML report here.")] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Show stored window results (trends) without reading the log."""
    with open_from_cli(project, db_url) as yard:
        report = yard.monitor.report(model, window=window, limit=limit)
        if html is not None:
            yard.monitor.write_html(report, html)
    from ..monitor import print_report

    print_report(report, console())
    if html is not None:
        console().print(f"report written to {html}")


def _plain(value: Any) -> Any:
    return str(value)
