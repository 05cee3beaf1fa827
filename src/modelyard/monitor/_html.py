"""The monitoring report as one self-contained HTML file.

The file has no scripts, fonts or styles from the network: its charts are inline SVG drawn
here (reference-vs-current histograms of every drifted feature, and time series of drift,
quality and latency over the windows), so it can be mailed or archived as is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from ._drift import DriftThresholds, FeatureDrift
from ._report import MonitorReport, fmt, pct, version_rows, versions_text, when
from ._results import WindowResult

__all__ = ["histogram_svg", "render_html", "series_svg"]

REF_COLOUR = "#8da0cb"
CUR_COLOUR = "#fc8d62"
LINE_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def histogram_svg(feature: FeatureDrift, *, width: int = 420, height: int = 160) -> Markup:
    """Reference and current shares side by side, as an inline SVG."""
    hist = feature.histogram
    ref, cur = hist.get("reference", []), hist.get("current", [])
    if not ref:
        return Markup("")
    n = len(ref)
    top = max(max(ref), max(cur), 1e-9)
    pad, bottom = 4, 22
    bar_w = (width - 2 * pad) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="histogram of {feature.name}">']
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = pad + i * bar_w
        for j, (share, colour) in enumerate(((r, REF_COLOUR), (c, CUR_COLOUR))):
            h = (height - bottom - pad) * share / top
            parts.append(f'<rect x="{x + j * bar_w / 2:.1f}" y="{height - bottom - h:.1f}" '
                         f'width="{max(bar_w / 2 - 0.5, 0.5):.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{share:.3%}</title></rect>')
    labels = hist.get("labels", [])
    if feature.kind == "numeric" and labels:
        parts.append(f'<text x="{pad}" y="{height - 6}" font-size="10">{fmt(labels[0])}</text>')
        parts.append(f'<text x="{width - pad}" y="{height - 6}" font-size="10" '
                     f'text-anchor="end">{fmt(labels[-1])}</text>')
    else:
        for i, label in enumerate(labels[:n]):
            parts.append(f'<text x="{pad + (i + 0.5) * bar_w:.1f}" y="{height - 6}" '
                         f'font-size="9" text-anchor="middle">{_escape(str(label))[:8]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def series_svg(times: Sequence[float], lines: Mapping[str, Sequence[float | None]], *,
               threshold: float | None = None, width: int = 640,
               height: int = 180) -> Markup:
    """Lines over window start times, with an optional dashed threshold, as inline SVG."""
    values = [v for vs in lines.values() for v in vs if v is not None and math.isfinite(v)]
    if not times or not values:
        return Markup("<p>no data</p>")
    lo = min([*values, threshold] if threshold is not None else values)
    hi = max([*values, threshold] if threshold is not None else values)
    lo, hi = (lo - 1, hi + 1) if hi == lo else (lo, hi)
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    left, right, top, bottom = 48, 8, 8, 22

    def xy(t: float, v: float) -> str:
        x = left + (t - t0) / span * (width - left - right)
        y = top + (hi - v) / (hi - lo) * (height - top - bottom)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'role="img">',
             f'<text x="2" y="{top + 8}" font-size="10">{fmt(hi)}</text>',
             f'<text x="2" y="{height - bottom}" font-size="10">{fmt(lo)}</text>',
             f'<text x="{left}" y="{height - 6}" font-size="10">{when(t0)}</text>',
             f'<text x="{width - right}" y="{height - 6}" font-size="10" '
             f'text-anchor="end">{when(t1)}</text>']
    if threshold is not None:
        parts.append(f'<polyline points="{xy(t0, threshold)} {xy(t1, threshold)}" '
                     'stroke="#c00" stroke-dasharray="4 3" fill="none"/>')
    for k, (name, vs) in enumerate(lines.items()):
        colour = LINE_COLOURS[k % len(LINE_COLOURS)]
        points = [xy(t, v) for t, v in zip(times, vs, strict=True)
                  if v is not None and math.isfinite(v)]
        if not points:
            continue
        parts.append(f'<polyline points="{" ".join(points)}" stroke="{colour}" '
                     'stroke-width="1.5" fill="none"/>')
        parts.extend(f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2" '
                     f'fill="{colour}"/>' for p in points)
        parts.append(f'<text x="{width - right}" y="{top + 10 + 12 * k}" font-size="10" '
                     f'text-anchor="end" fill="{colour}">{_escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _escape(text: str) -> str:
    return str(Markup.escape(text))


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>modelyard monitoring: {{ report.model }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.bad { color: #c00; font-weight: bold; } .ok { color: #080; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5em; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
</style></head><body>
<h1>Monitoring: {{ report.model }}</h1>
<p>Reference: {{ report.reference }}. {{ report.windows|length }} window(s){% if latest %},
latest {{ when(latest.start) }} - {{ when(latest.end) }} ({{ latest.window }},
{{ latest.n_predictions }} predictions){% endif %}.</p>
{% if report.open_alerts %}<h2>Open alerts</h2><table><tr><th>rule</th><th>subject</th>
<th>value</th><th>since</th><th>message</th></tr>
{% for a in report.open_alerts %}<tr><td>{{ a.rule }}</td><td>{{ a.subject }}</td>
<td class="bad">{{ fmt(a.value) }}</td><td>{{ when(a.opened_at) }}</td>
<td>{{ a.message }}</td></tr>{% endfor %}</table>{% endif %}
{% if latest %}
<h2>Latest window: features</h2>
<table><tr><th>feature</th><th>kind</th><th>rows</th><th>PSI</th><th>test</th>
<th>statistic</th><th>p-value</th><th>JS</th><th>missing</th><th>out of range</th>
<th>drifted</th></tr>
{% for f in latest.drift.features + latest.prediction_drift.features %}
<tr><td>{{ f.name }}</td><td>{{ f.kind }}</td><td>{{ f.n }}</td><td>{{ fmt(f.psi) }}</td>
<td>{{ f.test }}</td><td>{{ fmt(f.statistic) }}</td><td>{{ fmt(f.p_value) }}</td>
<td>{{ fmt(f.js) }}</td><td>{{ pct(f.missing_rate) }}</td><td>{{ pct(f.out_of_range_rate) }}</td>
<td class="{{ 'bad' if f.drifted else 'ok' }}">{{ ', '.join(f.reasons) if f.drifted else 'no' }}
</td></tr>{% endfor %}</table>
<p>Drift thresholds: PSI &gt; {{ th.psi_threshold }} (from {{ th.psi_min_rows }} rows);
KS p &lt; {{ th.ks_pvalue_threshold }} and D &ge; {{ th.ks_min_statistic }};
chi-squared p &lt; {{ th.chi2_pvalue_threshold }} and JS &ge; {{ th.js_threshold }}.</p>
{% if versions %}<h2>Latest window: versions</h2>
<p>Each version's predictions are compared with its own reference; the reference version's
rows give the window's prediction drift, quality and alerts. Shadow rows are not served
traffic.</p>
<table><tr><th>version</th><th>role</th><th>served</th><th>shadow</th><th>reference</th>
<th>prediction PSI</th><th>drifted</th><th>labelled</th><th>quality</th></tr>
{% for v in versions %}<tr><td>{{ v.version }}</td><td>{{ v.role }}</td><td>{{ v.served }}</td>
<td>{{ v.shadow }}</td><td>{{ v.reference }}</td><td>{{ v.psi }}</td>
<td class="{{ 'ok' if v.drifted == 'no' else 'bad' }}">{{ v.drifted }}</td>
<td>{{ v.labelled }}</td><td>{{ v.quality }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Quality and health of the latest window</h2>
<table><tr><th>measure</th><th>value</th><th>registered</th></tr>
{% for k, v in latest.performance.metrics.items() %}<tr><td>{{ k }}</td><td>{{ fmt(v) }}</td>
<td>{{ fmt(latest.performance.baseline.get(k)) }}</td></tr>{% endfor %}
<tr><td>labelled</td><td>{{ latest.performance.n_labelled }} ({{
pct(latest.performance.coverage) }})</td><td></td></tr>
<tr><td>label delay p50 / p90</td><td>{{ dur(latest.performance.label_delay_p50_s) }} /
{{ dur(latest.performance.label_delay_p90_s) }}</td><td></td></tr>
<tr><td>requests / s</td><td>{{ fmt(latest.health.requests_per_s) }}</td><td></td></tr>
<tr><td>latency p50 / p95 / p99 (ms)</td><td>{{ fmt(latest.health.latency_p50_ms) }} /
{{ fmt(latest.health.latency_p95_ms) }} / {{ fmt(latest.health.latency_p99_ms) }}</td>
<td></td></tr>
<tr><td>error rate</td><td>{{ pct(latest.health.error_rate) }}
({{ latest.health.errors_source }})</td><td></td></tr></table>
{% if drifted %}<h2>Drifted features: reference vs current</h2>
<p class="legend"><span style="background:{{ ref_colour }}"></span>reference
<span style="background:{{ cur_colour }}"></span>current</p>
<div class="grid">{% for f in drifted %}
<div><h3>{{ f.name }} ({{ ', '.join(f.reasons) }})</h3>{{ hist(f) }}</div>
{% endfor %}</div>{% endif %}
{% endif %}
{% if report.windows|length > 1 %}
<h2>Trends</h2>
<h3>PSI per feature</h3>{{ psi_chart }}
<h3>Quality on labelled predictions</h3>{{ quality_chart }}
<h3>Latency (ms)</h3>{{ latency_chart }}
{% endif %}
<h2>Windows</h2>
<table><tr><th>start</th><th>end</th><th>predictions</th><th>versions</th><th>drifted</th>
<th>labelled</th><th>accuracy</th><th>p99 ms</th><th>req/s</th></tr>
{% for w in report.windows %}<tr><td>{{ when(w.start) }}</td><td>{{ when(w.end) }}</td>
<td>{{ w.n_predictions }}</td><td>{{ versions_text(w) }}</td>
<td class="{{ 'bad' if w.drift.drifted else 'ok' }}">{{
', '.join(w.drift.drifted) or '-' }}</td><td>{{ w.performance.n_labelled }}</td>
<td>{{ fmt(w.performance.metrics.get('accuracy', w.performance.metrics.get('rmse'))) }}</td>
<td>{{ fmt(w.health.latency_p99_ms) }}</td><td>{{ fmt(w.health.requests_per_s) }}</td></tr>
{% endfor %}</table>
<p>Generated by modelyard at {{ when(now) }} UTC.</p>
</body></html>
"""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def render_html(report: MonitorReport, thresholds: DriftThresholds | None = None) -> str:
    """The report as one self-contained HTML document."""
    import time

    windows = report.windows
    latest = report.latest
    times = [w.start for w in windows]
    names = [f.name for f in latest.drift.features] if latest else []
    psi_lines = {n: [_psi(w, n) for w in windows] for n in names}
    quality = {m: [w.performance.metrics.get(m) for w in windows]
               for m in ("accuracy", "f1", "roc_auc", "mae", "rmse")
               if any(m in w.performance.metrics for w in windows)}
    latency = {q: [getattr(w.health, f"latency_{q}_ms") for w in windows]
               for q in ("p50", "p95", "p99")}
    th = thresholds or DriftThresholds()
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_TEMPLATE)
    return template.render(
        report=report, latest=latest, th=th, now=time.time(), when=when, fmt=fmt,
        versions=version_rows(latest) if latest else [], versions_text=versions_text,
        pct=pct, dur=_duration, hist=histogram_svg, ref_colour=REF_COLOUR,
        cur_colour=CUR_COLOUR,
        drifted=[f for f in (latest.drift.features + latest.prediction_drift.features)
                 if f.drifted] if latest else [],
        psi_chart=series_svg(times, psi_lines, threshold=th.psi_threshold),
        quality_chart=series_svg(times, quality),
        latency_chart=series_svg(times, latency))


def _psi(window: WindowResult, name: str) -> float | None:
    for f in window.drift.features:
        if f.name == name:
            return f.psi
    return None
