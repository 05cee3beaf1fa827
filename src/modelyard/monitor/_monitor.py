"""The monitoring SDK: ``yard.monitor``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from ..config import Settings
from ..errors import InvalidInput, NotFound, StorageUnavailable
from ..registry import Models
from ..store import Alert, ModelVersion, Store
from ._alerts import Alerter, AlertEvent, AlertRule, default_rules, parse_rule
from ._counts import DriftCounts
from ._drift import DriftThresholds
from ._health import read_server_counts
from ._logstore import open_log_store
from ._performance import LabelIndex, PerformanceCounts
from ._profile import ReferenceProfile
from ._references import version_profile, window_profile
from ._report import MonitorReport
from ._results import VersionResult, WindowResult
from ._sketch import FeatureSketches
from ._windows import (
    VersionCounts,
    VersionReferences,
    WindowSpec,
    parse_time,
    parse_window,
    scan_log,
)

__all__ = ["Monitor"]

_LOG = logging.getLogger("modelyard.monitor")


class Monitor:
    """Drift, quality, health and alerts of served models, from the prediction log.

    Reached as ``yard.monitor``.

    Args:
        store: the yard's store.
        models: the yard's registry.
        settings: thresholds, the default window and the webhook.
        log_root: where the prediction log lives, a folder or an fsspec URL
            (``<state_dir>/predictions`` by default).

    Example:
        >>> report = yard.monitor.check("fraud", window="hourly")  # doctest: +SKIP
        >>> report.latest.drift.drifted  # doctest: +SKIP
        ('amount',)
        >>> yard.monitor.write_html(report, "fraud.html")  # doctest: +SKIP
    """

    def __init__(self, store: Store, models: Models, settings: Settings, *,
                 log_root: str | os.PathLike[str] | None = None) -> None:
        self._store = store
        self._models = models
        self.settings = settings
        self._log_root = log_root

    @property
    def log_root(self) -> str | os.PathLike[str]:
        """Where the prediction log is read from when a pass names no other place: the
        ``log_root`` given (a folder or a URL such as ``s3://bucket/predictions``), else the
        ``log_dir`` setting, else ``<state_dir>/predictions``."""
        if self._log_root is not None and os.fspath(self._log_root):
            return self._log_root
        return self.settings.log_dir or self.settings.state_dir / "predictions"

    @property
    def thresholds(self) -> DriftThresholds:
        """The drift thresholds in force (from the settings)."""
        s = self.settings
        return DriftThresholds(psi_threshold=s.psi_threshold, psi_min_rows=s.psi_min_rows,
                               ks_pvalue_threshold=s.ks_pvalue_threshold,
                               ks_min_statistic=s.ks_min_statistic,
                               chi2_pvalue_threshold=s.chi2_pvalue_threshold,
                               js_threshold=s.js_threshold)

    def default_rules(self) -> tuple[AlertRule, ...]:
        """The alert rules used when none are given (thresholds from the settings)."""
        s = self.settings
        return default_rules(psi=s.psi_threshold, accuracy_drop=s.alert_accuracy_drop,
                             latency_p99_ms=s.alert_latency_p99_ms,
                             error_rate=s.alert_error_rate)

    # -- reference profiles -------------------------------------------------------------

    def _default_version(self, model: str) -> ModelVersion:
        try:
            return self._models.get(f"{model}@champion")
        except NotFound:
            return self._models.get(model)

    def profile(self, ref: str | ModelVersion) -> ReferenceProfile:
        """The reference profile of a model version: its training data version's
        statistics, and those of the version's predictions on it. Computed on first use
        and stored; never recomputed (see :meth:`forget_profile`).

        Args:
            ref: a version (``fraud@champion``, ``fraud@3``) or its record.

        Raises:
            NotFound: no such version.
            InvalidInput: the version was registered without a dataset version.
        """
        version = ref if isinstance(ref, ModelVersion) else self._models.get(ref)
        return version_profile(self._store, self._models, version)

    def forget_profile(self, ref: str | ModelVersion) -> bool:
        """Drop a version's stored profile, so the next use computes it again."""
        version = ref if isinstance(ref, ModelVersion) else self._models.get(ref)
        return self._store.monitoring.delete_profile(version.id)

    # -- monitoring passes --------------------------------------------------------------

    def check(
        self,
        model: str,
        *,
        window: str | WindowSpec | None = None,
        since: str | float | datetime | None = None,
        until: str | float | datetime | None = None,
        reference: str | None = None,
        log_root: str | os.PathLike[str] | None = None,
        rules: Iterable[AlertRule | str] | None = None,
        alerts: bool = True,
        webhook_url: str | None = None,
        server_url: str | None = None,
        server_required: bool = True,
    ) -> MonitorReport:
        """Evaluate ``model``'s logged predictions window by window, store each window's
        result (replacing an earlier result of the same window), and raise alerts.

        Args:
            model: the model name.
            window: ``hourly``, ``daily`` or ``last:N`` (``monitor_window`` by default).
            since: only predictions from then on (ISO 8601, epoch seconds or datetime).
            until: only predictions before then.
            reference: what to compare with: a model version (``fraud@3``) whose training
                data is used; ``window:START/END`` for a log window; the champion's (else
                the latest version's) training data by default. Any other reference than
                the default is a what-if: its windows are returned but not stored, and no
                alert is opened or resolved.
            log_root: the prediction log folder or its URL (``s3://bucket/predictions``);
                :attr:`log_root` by default.
            rules: alert rules (``AlertRule`` or ``"feature_psi>0.2"``); the defaults
                from the settings otherwise.
            alerts: apply the alert rules.
            webhook_url: post incidents here (``alert_webhook_url`` by default).
            server_url: the serving process, to read error counts from its ``/metrics``.
            server_required: fail when that server cannot be read (else go on without
                its counts: the loop's passes do, so a stopped server does not stop the
                drift and quality checks).

        Returns:
            The windows, oldest first, and the incidents opened or resolved.

        Raises:
            NotFound: no such model.
            InvalidInput: a bad window, time, reference or rule.
        """
        self._models.get_model(model)
        spec = parse_window(window or self.settings.monitor_window)
        parsed_rules = [parse_rule(r) if isinstance(r, str) else r
                        for r in (rules if rules is not None else self.default_rules())]
        root = open_log_store(log_root if log_root is not None else self.log_root)
        lo, hi = parse_time(since), parse_time(until)
        baseline_version = self._default_version(model)
        standard = baseline_version.version
        if reference is not None and reference.startswith("window:"):
            profile = window_profile(model, reference[len("window:"):], root,
                                     baseline_version)
        else:
            if reference is not None:
                baseline_version = self._models.get(reference)
            profile = self.profile(baseline_version)
        records: dict[int, ModelVersion | None] = {baseline_version.version: baseline_version}

        def record(number: int) -> ModelVersion | None:
            if number not in records:
                try:
                    records[number] = self._models.get(f"{model}/versions/{number}")
                except NotFound:
                    records[number] = None
            return records[number]

        def load(number: int) -> ReferenceProfile:
            found = record(number)
            if found is None:
                raise NotFound(f"version {number} of {model!r} is not in the registry")
            return self.profile(found)

        refs = VersionReferences(profile, baseline_version.version, load=load)
        labels = LabelIndex(self._store.monitoring.labels(model, since=lo))
        counted = scan_log(root, model, spec, refs, labels, since=lo, until=hi)
        repo = self._store.monitoring
        recent = [w.result for w in repo.windows(model, limit=200)]
        previous_server = next((r["health"].get("server_counts") for r in reversed(recent)
                                if r.get("health", {}).get("server_counts")), None)
        server = None
        if server_url and counted:
            try:
                server = read_server_counts(server_url, model)
            except StorageUnavailable:
                if server_required:
                    raise
        now = time.time()
        th = self.thresholds
        results: list[WindowResult] = []
        for i, c in enumerate(counted):
            last = i == len(counted) - 1
            duration = (c.end - c.start if spec.kind == "last"
                        else max(min(c.end, now) - c.start, 0.0))
            by_version = {str(n): _version_result(vc, profile, record(n), th)
                          for n, vc in sorted(c.by_version.items())}
            own = by_version.get(str(baseline_version.version))
            results.append(WindowResult(
                model=model, window=str(spec), start=c.start, end=c.end,
                complete=spec.kind == "last" or c.end <= now,
                versions={str(k): v for k, v in c.versions.items()},
                reference=profile.source, drift=c.drift.compare(th),
                prediction_drift=own.prediction_drift if own is not None
                else DriftCounts(profile.predictions).compare(th),
                performance=own.performance if own is not None
                else PerformanceCounts(classes=profile.classes).result(
                    profile.task, baseline_version.metrics),
                health=c.health.result(duration, server=server if last else None,
                                       previous=previous_server if last else None),
                reference_version=baseline_version.version, by_version=by_version))
        # A comparison with another reference than the served version's own (``fraud@1``,
        # ``window:...``) is a what-if: shown, never stored, and it opens no alert that the
        # loop would act on.
        what_if = reference is not None and (reference.startswith("window:")
                                             or baseline_version.version != standard)
        events: list[AlertEvent] = []
        if alerts and results and not what_if:
            watermark = max((r["end"] for r in recent if r.get("alerts_evaluated")),
                            default=float("-inf"))
            alerter = Alerter(self._store, parsed_rules,
                              webhook_url=webhook_url or self.settings.alert_webhook_url,
                              min_labelled_rows=self.settings.monitor_min_labelled_rows)
            for i, result in enumerate(results):
                if result.end >= watermark:  # never re-open incidents from older windows
                    events.extend(alerter.apply(model, result))
                    results[i] = _evaluated(result)
        for result in results if not what_if else ():
            repo.save_window(model, result.version, result.start, result.end,
                             result.n_predictions, result.performance.n_labelled,
                             result.to_dict())
        return MonitorReport(model=model, reference=profile.source, windows=tuple(results),
                             events=tuple(events),
                             open_alerts=tuple(repo.alerts(model, status="open")))

    # -- reading what is stored ---------------------------------------------------------

    def windows(self, model: str, *, window: str | None = None,
                since: str | float | datetime | None = None,
                until: str | float | datetime | None = None,
                limit: int | None = None) -> list[WindowResult]:
        """Stored window results of ``model``, oldest first (for trends).

        Args:
            window: only windows cut this way (``hourly``, ``daily``, ``last:N``).
            since: windows starting from then on.
            until: windows starting before then.
            limit: only the newest this many.
        """
        found = [WindowResult.from_dict(w.result) for w in self._store.monitoring.windows(
            model, since=parse_time(since), until=parse_time(until), limit=None
            if window else limit)]
        if window is not None:
            found = [w for w in found if w.window == str(parse_window(window))]
            found = found[-limit:] if limit else found
        return found

    def alerts(self, model: str, *, status: str | None = None) -> list[Alert]:
        """Alert incidents of ``model``, newest first; ``status`` ``open`` or ``resolved``.

        Raises:
            InvalidInput: another status.
        """
        if status not in (None, "open", "resolved"):
            raise InvalidInput(f"alert status {status!r} is not 'open' or 'resolved'")
        return self._store.monitoring.alerts(model, status=status)

    def report(self, model: str, *, window: str | None = None,
               limit: int = 168) -> MonitorReport:
        """A report of the stored windows (no log is read) with the open incidents."""
        found = self.windows(model, window=window, limit=limit)
        return MonitorReport(model=model, reference=found[-1].reference if found else "",
                             windows=tuple(found),
                             open_alerts=tuple(self.alerts(model, status="open")))

    def html(self, report: MonitorReport) -> str:
        """``report`` as one self-contained HTML document (inline SVG, no network)."""
        from ._html import render_html

        return render_html(report, self.thresholds)

    def write_html(self, report: MonitorReport, path: str | os.PathLike[str]) -> Path:
        """Write ``report`` as one self-contained HTML file (inline SVG, no network)."""
        out = Path(path)
        out.write_text(self.html(report), encoding="utf-8")
        return out

    def sketches(self, ref: str | ModelVersion, *, window_s: float = 3600.0,
                 slots: int = 12) -> FeatureSketches:
        """Live per-feature sketches for a served version (see :class:`FeatureSketches`)."""
        return FeatureSketches(self.profile(ref), window_s=window_s, slots=slots,
                               thresholds=self.thresholds)


def _version_result(counts: VersionCounts, reference: ReferenceProfile,
                    version: ModelVersion | None, th: DriftThresholds) -> VersionResult:
    """One version's rows of a window, judged against its own reference and metrics."""
    profile = counts.profile or reference
    return VersionResult(
        version=counts.version, served=counts.served, shadow=counts.shadow,
        reference=counts.source, prediction_drift=counts.predictions.compare(th),
        performance=counts.performance.result(profile.task,
                                              version.metrics if version else None))


def _evaluated(result: WindowResult) -> WindowResult:
    from dataclasses import replace

    return replace(result, alerts_evaluated=True)
