"""The report of a monitoring pass, and its rich summary for the terminal.

A window where several versions predicted (around a promotion, during a rollout) gets a
versions table: each version's rows, served or in shadow, its prediction drift against its
own reference and its quality on labelled rows; the row marked ``reference`` is the one the
window's prediction drift, quality and alerts describe. The HTML form is in ``_html.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..store import Alert
from ._alerts import AlertEvent
from ._results import WindowResult

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["MonitorReport", "print_report", "version_rows", "versions_text"]


@dataclass(frozen=True)
class MonitorReport:
    """The windows of one monitoring pass (or of the store), with the alert changes.

    Attributes:
        model: the model name.
        reference: what the windows were compared with.
        windows: oldest first.
        events: incidents opened and resolved by this pass.
        open_alerts: incidents open after it.
    """

    model: str
    reference: str
    windows: tuple[WindowResult, ...]
    events: tuple[AlertEvent, ...] = ()
    open_alerts: tuple[Alert, ...] = field(default=())

    @property
    def latest(self) -> WindowResult | None:
        """The newest window."""
        return self.windows[-1] if self.windows else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what the management API answers with)."""
        return {"model": self.model, "reference": self.reference,
                "windows": [w.to_dict() for w in self.windows],
                "events": [e.to_dict() for e in self.events],
                "open_alerts": [a.to_dict() for a in self.open_alerts]}


def when(ts: float) -> str:
    """A UTC time to the second: windows of ``last:N`` predictions can be seconds apart."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def versions_text(window: WindowResult) -> str:
    """Who predicted in ``window``: ``v1 450, v3 150, v3 300 shadow``."""
    served = [f"v{k} {n}" for k, n in window.versions.items()]
    shadow = [f"v{k} {v.shadow} shadow" for k, v in window.by_version.items() if v.shadow]
    return ", ".join(served + shadow) or "-"


def version_rows(window: WindowResult) -> list[dict[str, str]]:
    """One row per version that predicted in ``window``, reference version first, for the
    report's versions table (empty when one version served and none shadowed)."""
    entries = list(window.by_version.values())
    if len(entries) < 2 and not any(v.shadow for v in entries):
        return []
    entries.sort(key=lambda v: (v.version != window.reference_version, v.version))
    rows: list[dict[str, str]] = []
    for v in entries:
        role = ("reference" if v.version == window.reference_version
                else "shadow" if not v.served else "served")
        metrics = v.performance.metrics
        metric = "accuracy" if "accuracy" in metrics else "rmse" if "rmse" in metrics else ""
        rows.append({
            "version": f"v{v.version}", "role": role, "served": str(v.served),
            "shadow": str(v.shadow), "reference": v.reference,
            "psi": ", ".join(f"{f.name} {fmt(f.psi)}" for f in v.prediction_drift.features
                             if f.n) or "-",
            "drifted": ", ".join(v.prediction_drift.drifted) or "no",
            "labelled": str(v.performance.n_labelled),
            "quality": f"{metric} {fmt(metrics[metric])} (registered "
                       f"{fmt(v.performance.baseline.get(metric))})" if metric else "-"})
    return rows


def print_report(report: MonitorReport, console: Console) -> None:
    """Print the report's windows, the latest window's features and the alerts."""
    from rich.table import Table

    latest = report.latest
    console.print(f"[bold]{report.model}[/]  reference: {report.reference or '-'}  "
                  f"windows: {len(report.windows)}")
    if not report.windows:
        console.print("no logged predictions in the chosen time range")
    windows = Table(title="windows", title_justify="left", header_style="bold cyan")
    for col in ("start (UTC)", "end", "predictions", "versions", "drifted", "labelled",
                "accuracy/rmse", "p50 ms", "p99 ms", "req/s", "errors"):
        windows.add_column(col)
    for w in report.windows[-24:]:
        metric = w.performance.metrics.get("accuracy", w.performance.metrics.get("rmse"))
        windows.add_row(when(w.start), when(w.end)[11:], str(w.n_predictions),
                        versions_text(w),
                        f"[red]{', '.join(w.drift.drifted)}[/]" if w.drift.drifted else "-",
                        f"{w.performance.n_labelled} ({pct(w.performance.coverage)})",
                        fmt(metric), fmt(w.health.latency_p50_ms),
                        fmt(w.health.latency_p99_ms), fmt(w.health.requests_per_s),
                        pct(w.health.error_rate))
    if report.windows:
        console.print(windows)
    if latest is not None:
        feats = Table(title=f"features, window from {when(latest.start)}",
                      title_justify="left", header_style="bold cyan")
        for col in ("feature", "PSI", "test", "statistic", "p-value", "JS", "missing",
                    "out of range", "drifted"):
            feats.add_column(col)
        for f in latest.drift.features + latest.prediction_drift.features:
            feats.add_row(f.name, fmt(f.psi), f.test, fmt(f.statistic), fmt(f.p_value),
                          fmt(f.js), pct(f.missing_rate), pct(f.out_of_range_rate),
                          f"[red]{', '.join(f.reasons)}[/]" if f.drifted else "no")
        console.print(feats)
        rows = version_rows(latest)
        if rows:
            table = Table(title="versions (each against its own reference; the reference "
                                "version's rows give the alerts)", title_justify="left",
                          header_style="bold cyan")
            for col in ("version", "role", "served", "shadow", "reference", "prediction PSI",
                        "drifted", "labelled", "quality"):
                table.add_column(col)
            for row in rows:
                drifted = row["drifted"]
                table.add_row(*(row[k] for k in ("version", "role", "served", "shadow",
                                                 "reference", "psi")),
                              drifted if drifted == "no" else f"[red]{drifted}[/]",
                              row["labelled"], row["quality"])
            console.print(table)
    for e in report.events:
        colour = "red" if e.event == "alert.opened" else "green"
        console.print(f"[{colour}]{e.event}[/] {e.alert.message}", markup=True)
    if report.open_alerts:
        console.print(f"[red]{len(report.open_alerts)} open alert(s)[/]: " + "; ".join(
            f"{a.rule} {a.subject}" for a in report.open_alerts))
