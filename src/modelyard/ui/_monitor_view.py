"""What the serving, monitoring and loop pages show.

Serving: request rate, latency percentiles and error share over time per model and version,
from the servers' own metrics (:class:`~._serving.ServingSampler`), or, when the dashboard
reads no server, from the monitor's stored windows. Monitoring: drift per feature over the
stored windows, reference-against-current histograms of drifted features, accuracy on
delayed labels with label coverage, and alerts. Loop: the audit timeline, cycle by cycle.
"""

from __future__ import annotations

from typing import Any

from ..yard import Yard
from ._charts import histogram, line_chart
from ._serving import ServingSampler, summary

__all__ = ["loop_timeline", "monitoring_detail", "serving_overview"]

#: the numbers of a loop event worth showing in its row
_EVENT_NUMBERS = ("champion_score", "challenger_score", "difference", "margin", "p_value",
                  "test", "metric", "latency_p99_ms", "error_share", "canary_share",
                  "requests", "accuracy", "champion_accuracy", "reason", "run_id", "version",
                  "challenger", "champion", "dataset", "trigger", "passed")


def serving_overview(yard: Yard, sampler: ServingSampler | None) -> dict[str, Any]:
    """Per model: charts of requests/s, latency p50/p95/p99 and error share over time, per
    version, and the newest values; from the servers' metrics when the dashboard reads any,
    else from the monitor's stored windows."""
    models: dict[str, dict[str, Any]] = {}
    series = sampler.series() if sampler is not None else {}
    for (model, version), points in series.items():
        models.setdefault(model, {"versions": {}})["versions"][version] = points
    out = []
    for model, info in sorted(models.items()):
        per = info["versions"]
        label = {v: ("all versions" if v == "all" else f"v{v}") for v in per}
        rate = {label[v]: ([p.at for p in pts], [p.requests_per_s for p in pts])
                for v, pts in per.items()}
        errors = {label[v]: ([p.at for p in pts], [p.error_rate for p in pts])
                  for v, pts in per.items()}
        latency: dict[str, tuple[list[float], list[float | None]]] = {}
        for v, pts in per.items():
            if v == "all" and len(per) > 1:
                continue
            for q in ("p50", "p95", "p99"):
                latency[f"{label[v]} {q}"] = ([p.at for p in pts],
                                              [getattr(p, f"{q}_ms") for p in pts])
        out.append({
            "model": model, "source": "server",
            "now": {label[v]: summary(pts) for v, pts in per.items()},
            "charts": [
                line_chart(rate, title="requests per second", x_label="time",
                           y_label="requests/s", time_axis=True),
                line_chart(latency, title="latency percentiles", x_label="time",
                           y_label="ms", time_axis=True),
                line_chart(errors, title="error share", x_label="time", y_label="errors",
                           time_axis=True, percent=True)]})
    if not out:
        for m in yard.models.list():
            windows = yard.store.monitoring.windows(m.name, limit=200)
            if not windows:
                continue
            t = [w.window_end for w in windows]
            health = [w.result.get("health", {}) for w in windows]
            out.append({
                "model": m.name, "source": "monitor windows",
                "now": {"all versions": {k: health[-1].get(k) for k in (
                    "requests_per_s", "error_rate", "latency_p50_ms", "latency_p95_ms",
                    "latency_p99_ms")}},
                "charts": [
                    line_chart({"all versions": (t, [h.get("requests_per_s") for h in health])},
                               title="requests per second", x_label="window end",
                               y_label="requests/s", time_axis=True),
                    line_chart({q: (t, [h.get(f"latency_{q}_ms") for h in health])
                                for q in ("p50", "p95", "p99")}, title="latency percentiles",
                               x_label="window end", y_label="ms", time_axis=True),
                    line_chart({"all versions": (t, [h.get("error_rate") for h in health])},
                               title="error share", x_label="window end", y_label="errors",
                               time_axis=True, percent=True)]})
    sources = sampler.sources if sampler is not None else []
    return {"models": out, "sources": sources,
            "interval_s": sampler.interval_s if sampler is not None else None}


def monitoring_detail(yard: Yard, model: str, *, limit: int = 200) -> dict[str, Any]:
    """Drift per feature over the stored windows, histograms of the features drifted in the
    newest window that has any, quality on delayed labels with coverage, and alerts.

    Raises:
        NotFound: no such model.
    """
    yard.models.get_model(model)
    windows = yard.store.monitoring.windows(model, limit=limit)
    alerts = yard.monitor.alerts(model)
    thresholds = yard.monitor.thresholds
    times = [w.window_end for w in windows]
    psi: dict[str, list[float | None]] = {}
    for i, w in enumerate(windows):
        for f in w.result.get("drift", {}).get("features", []):
            psi.setdefault(f["name"], [None] * len(windows))[i] = f.get("psi")
    drift_chart = line_chart({k: (times, v) for k, v in sorted(psi.items())},
                             title="PSI per feature", x_label="window end", y_label="PSI",
                             time_axis=True, threshold=thresholds.psi_threshold,
                             width=760, height=280)
    latest_drift = None
    for w in reversed(windows):
        feats = [f for f in w.result.get("drift", {}).get("features", []) if f.get("drifted")]
        if feats:
            latest_drift = {"window": w, "features": [{
                "feature": f, "svg": histogram(
                    f["histogram"].get("labels", []), f["histogram"].get("reference", []),
                    f["histogram"].get("current", []), numeric=f["kind"] == "numeric",
                    title=f"{f['name']}: reference against current", x_label=f["name"])}
                for f in feats if f.get("histogram")]}
            break
    perf = [w.result.get("performance", {}) for w in windows]
    quality_keys = sorted({k for p in perf for k in p.get("metrics", {})})
    quality = line_chart({k: (times, [p.get("metrics", {}).get(k) for p in perf])
                          for k in quality_keys}, title="quality on delayed labels",
                         x_label="window end", y_label="score", time_axis=True)
    coverage = line_chart({"label coverage": (times, [p.get("coverage") for p in perf])},
                          title="label coverage", x_label="window end",
                          y_label="labelled share", time_axis=True, percent=True)
    rows = [{"window": w, "drifted": [f["name"] for f in w.result.get("drift", {}).get(
        "features", []) if f.get("drifted")], "performance": w.result.get("performance", {}),
        "health": w.result.get("health", {})} for w in reversed(windows)]
    return {"model": model, "windows": rows, "drift_chart": drift_chart,
            "latest_drift": latest_drift, "quality_chart": quality,
            "coverage_chart": coverage, "alerts": alerts,
            "open_alerts": [a for a in alerts if a.status == "open"],
            "psi_threshold": thresholds.psi_threshold}


def loop_timeline(yard: Yard, model: str, *, limit: int = 500) -> dict[str, Any]:
    """The loop's audit trail of a model, newest cycle first: each cycle's trigger, retrain,
    gate (with its numbers), shadow, canary, promotion or roll back.

    Raises:
        NotFound: no such model.
    """
    yard.models.get_model(model)
    events = yard.store.loop.events(model, limit=limit)
    cycles: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        cycle = e.data.get("cycle")
        if current is None or e.kind == "trigger" or (cycle and cycle != current["cycle"]
                                                       and current["cycle"]):
            current = {"cycle": cycle or "", "events": [], "outcome": "in progress"}
            cycles.append(current)
        current["cycle"] = current["cycle"] or cycle or ""
        numbers = {k: e.data[k] for k in _EVENT_NUMBERS if k in e.data}
        current["events"].append({"event": e, "numbers": numbers,
                                  "stage": e.kind.split(".")[0]})
        if e.kind in ("promoted", "rolled_back", "gate.rejected") or e.kind.endswith("failed"):
            current["outcome"] = e.kind
    state = yard.store.loop.state(model)
    return {"model": model, "cycles": list(reversed(cycles)),
            "rollouts": yard.store.rollouts.history(model),
            "state": state.state if state else {}}
