"""Alert rules, incidents and the webhook.

A rule names a measure of a window and a threshold; it breaks when the measure is above the
threshold. Measures that exist once per feature (``feature_psi``) give one subject per
feature. An incident is one ``(model, rule, subject)`` while it stays broken: the first
window that breaks the rule opens it (stored, logged at WARNING, posted to the webhook as
``alert.opened``); later breaking windows only update it; the first window in which the
measure is known and no longer breaks resolves it (``alert.resolved``). A window where the
measure is unknown (no labels yet, no server URL for errors) changes nothing.

A window may hold rows of several model versions (after a promotion, during a rollout).
``prediction_psi`` and the quality measures read the reference version's rows (the
champion's, by default) against that version's own reference and registered metrics; the
other versions' figures are in the window's ``by_version`` and raise no alert. The old
champion's rows after a promotion describe a model no longer answering, and a challenger is
judged by its rollout and gate: an alert on either would start a retrain cycle for a version
that is not the one serving. Feature measures read every served row (inputs do not depend
on the version); a rollout's shadow rows are not served and count in none of them.

Measures:

=====================  ==========================================================
``feature_psi``        PSI of each input feature
``feature_drift``      1 for each feature the drift thresholds call drifted, else 0
``missing_rate``       each feature's missing share minus the reference's
``out_of_range_rate``  each feature's share outside the schema's range/categories
``prediction_psi``     PSI of the reference version's predicted class/value and score
``accuracy_drop``      registered accuracy minus the window's (0.05: 5 points), both
                       the reference version's;
                       also ``f1_drop``, ``roc_auc_drop``, ``rmse_rise``, ``mae_rise``
``latency_p50_ms``     request latency quantiles; also ``latency_p95_ms``, ``latency_p99_ms``
``error_rate``         share of requests the server answered with 5xx (needs its URL)
=====================  ==========================================================
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import default
from ..errors import InvalidInput
from ..store import Alert, Store
from ._results import WindowResult

__all__ = ["AlertEvent", "AlertRule", "Alerter", "default_rules", "parse_rule", "post_webhook"]

_LOG = logging.getLogger("modelyard.monitor")

MEASURES = ("feature_psi", "feature_drift", "missing_rate", "out_of_range_rate",
            "prediction_psi", "accuracy_drop", "precision_drop", "recall_drop", "f1_drop",
            "roc_auc_drop", "mae_rise", "rmse_rise", "latency_p50_ms", "latency_p95_ms",
            "latency_p99_ms", "error_rate")


@dataclass(frozen=True)
class AlertRule:
    """Break when ``measure`` is above ``threshold``.

    Example:
        >>> parse_rule("latency_p99_ms>250")
        AlertRule(measure='latency_p99_ms', threshold=250.0)
    """

    measure: str
    threshold: float

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise InvalidInput(f"unknown alert measure {self.measure!r}; use one of "
                               f"{', '.join(MEASURES)}")

    def __str__(self) -> str:
        return f"{self.measure}>{self.threshold:g}"


def parse_rule(text: str) -> AlertRule:
    """Read ``MEASURE>THRESHOLD``, e.g. ``feature_psi>0.2``.

    Raises:
        InvalidInput: another form or an unknown measure.
    """
    match = re.fullmatch(r"\s*([a-z0-9_]+)\s*>\s*([-+0-9.eE]+)\s*", text)
    if not match:
        raise InvalidInput(f"alert rule {text!r} is not MEASURE>THRESHOLD, e.g. "
                           "'feature_psi>0.2'")
    try:
        return AlertRule(match.group(1), float(match.group(2)))
    except ValueError as exc:
        raise InvalidInput(f"alert rule {text!r}: {match.group(2)!r} is not a number") from exc


def default_rules(*, psi: float = default("psi_threshold"),
                  accuracy_drop: float = default("alert_accuracy_drop"),
                  latency_p99_ms: float = default("alert_latency_p99_ms"),
                  error_rate: float = default("alert_error_rate")) -> tuple[AlertRule, ...]:
    """The rules used when none are given (thresholds from the settings; by default their
    declared defaults)."""
    return (AlertRule("feature_psi", psi), AlertRule("prediction_psi", psi),
            AlertRule("accuracy_drop", accuracy_drop),
            AlertRule("latency_p99_ms", latency_p99_ms), AlertRule("error_rate", error_rate))


def measure(window: WindowResult, name: str, *,
            min_labelled_rows: int = default("monitor_min_labelled_rows")) -> dict[str, float]:
    """The values of one measure in one window, by subject; empty when unknown."""
    if name in ("feature_psi", "missing_rate", "out_of_range_rate", "feature_drift"):
        out: dict[str, float] = {}
        for f in window.drift.features:
            if not f.n:
                continue
            if name == "feature_psi" and f.psi is not None:
                out[f.name] = f.psi
            elif name == "feature_drift":
                out[f.name] = float(f.drifted)
            elif name == "missing_rate":
                out[f.name] = f.missing_rate - f.reference_missing_rate
            elif name == "out_of_range_rate":
                out[f.name] = f.out_of_range_rate
        return out
    if name == "prediction_psi":
        return {f.name: f.psi for f in window.prediction_drift.features
                if f.n and f.psi is not None}
    if name.endswith(("_drop", "_rise")):
        perf = window.performance
        metric = name.rsplit("_", 1)[0]
        if perf.n_labelled < min_labelled_rows or metric not in perf.metrics or \
                metric not in perf.baseline:
            return {}
        change = perf.baseline[metric] - perf.metrics[metric]
        return {metric: change if name.endswith("_drop") else -change}
    value = getattr(window.health, name, None)
    return {} if value is None else {name: float(value)}


@dataclass(frozen=True)
class AlertEvent:
    """An incident opened or resolved by one window, and whether the webhook took it."""

    event: str
    alert: Alert
    delivered: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the webhook's body, with ``delivered``)."""
        return {"event": self.event, "alert": self.alert.to_dict(), "delivered": self.delivered}


def post_webhook(url: str, payload: Mapping[str, Any], *, timeout_s: float = 5.0,
                 attempts: int = 3) -> bool:
    """POST ``payload`` as JSON; retried on failure; never raises.

    Returns:
        Whether a 2xx answer came back.
    """
    for attempt in range(attempts):
        try:
            response = httpx.post(url, json=payload, timeout=timeout_s)
            if response.is_success:
                return True
            _LOG.error("alert webhook %s answered %s", url, response.status_code)
        except httpx.HTTPError as exc:
            _LOG.error("alert webhook %s failed: %s", url, exc)
        if attempt < attempts - 1:
            time.sleep(0.2 * (attempt + 1))
    return False


class Alerter:
    """Turns windows into incidents, de-duplicated per ``(rule, subject)``.

    Args:
        store: where incidents are kept.
        rules: the rules to evaluate.
        webhook_url: where opened and resolved incidents are posted, or ``None``.
        min_labelled_rows: quality rules wait for this many labelled predictions.
    """

    def __init__(self, store: Store, rules: Iterable[AlertRule], *,
                 webhook_url: str | None = None,
                 min_labelled_rows: int = default("monitor_min_labelled_rows")) -> None:
        self._store = store
        self.rules = tuple(rules)
        self.webhook_url = webhook_url or None
        self.min_labelled_rows = min_labelled_rows

    def apply(self, model: str, window: WindowResult) -> list[AlertEvent]:
        """Open, update or resolve incidents for one window; returns what changed."""
        repo = self._store.monitoring
        opened = {(a.rule, a.subject): a for a in repo.alerts(model, status="open")}
        events: list[AlertEvent] = []
        # A window still open ends in the future (a daily window ends at midnight): an
        # incident opens or resolves when it is seen, not at the window's planned end.
        at = min(window.end, time.time())
        for rule in self.rules:
            values = measure(window, rule.measure, min_labelled_rows=self.min_labelled_rows)
            for subject, value in values.items():
                key = (str(rule), subject)
                if value > rule.threshold:
                    message = (f"{model}: {rule.measure} of {subject} is {value:.4g}, above "
                               f"{rule.threshold:g} (window {_iso(window.start)} - "
                               f"{_iso(window.end)})")
                    alert, new = repo.open_alert(model, str(rule), subject, value=value,
                                                 threshold=rule.threshold, message=message,
                                                 at=at)
                    if new:
                        _LOG.warning("alert opened: %s", message)
                        events.append(AlertEvent("alert.opened", alert))
                elif key in opened:
                    alert = repo.resolve_alert(
                        opened[key].id, at=at, value=value,
                        message=f"{model}: {rule.measure} of {subject} is back to "
                                f"{value:.4g} (threshold {rule.threshold:g})")
                    _LOG.warning("alert resolved: %s", alert.message)
                    events.append(AlertEvent("alert.resolved", alert))
        if self.webhook_url:
            events = [AlertEvent(e.event, e.alert, post_webhook(self.webhook_url, {
                "event": e.event, "alert": e.alert.to_dict(),
                "window": {"start": window.start, "end": window.end}})) for e in events]
        return events


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M")
