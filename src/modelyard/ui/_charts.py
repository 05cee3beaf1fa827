"""The dashboard's charts as inline SVG, drawn here (no charting library, no network).

Line charts over steps or time (with nice ticks, axis titles, a legend and a dashed
threshold), grouped histograms of reference against current shares, and parallel
coordinates of a tuning study. A long series is thinned to its first, smallest, largest and
last value per pixel column before drawing, so a chart of 100,000 points is a few thousand SVG
coordinates and looks the same as the full series; :func:`downsample` keeps a bounded number
of points per curve (the run page's, with a note saying how many of how many).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from ._sampling import finite_sorted, thin

__all__ = ["PALETTE", "fmt", "histogram", "line_chart", "nice_ticks", "parallel_coordinates"]

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
           "#db2777")
REF_COLOUR, CUR_COLOUR = "#94a3b8", "#ea580c"
_FONT = 'font-family="inherit" font-size="11"'


def fmt(value: Any, digits: int = 4) -> str:
    """A number as a short label: ``0.9312``, ``1.2e+06``, ``12,000``; text as is."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating |
                                                  np.integer):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{max(digits - 2, 1)}e}"
    return f"{v:.{digits}g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800)


def _time_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = max(hi - lo, 1.0)
    step = next((s for s in _TIME_STEPS if span / s <= n), _TIME_STEPS[-1])
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) // step) + 1)]


def _time_label(t: float, span: float) -> str:
    local = time.localtime(t)
    if span <= 120:
        return time.strftime("%H:%M:%S", local)
    if span <= 2 * 86400:
        return time.strftime("%H:%M", local)
    return time.strftime("%d %b", local)


def _svg_open(width: int, height: int, label: str, cls: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(label)}">')


def line_chart(series: Mapping[str, tuple[Sequence[float] | np.ndarray,
                                          Sequence[float | None] | np.ndarray]], *,
               title: str = "", x_label: str = "step", y_label: str = "",
               time_axis: bool = False, threshold: float | None = None,
               width: int = 640, height: int = 260, percent: bool = False,
               every_point: bool = False) -> Markup:
    """Lines over a shared x axis, with ticks, axis titles and a legend.

    Args:
        series: ``name -> (xs, ys)``; ``None`` or non-finite values are skipped.
        title: the chart's name (its accessible label too).
        x_label: the x axis title.
        y_label: the y axis title.
        time_axis: x values are epoch seconds (ticks as clock times or dates).
        threshold: a dashed horizontal line (an alert threshold).
        width: pixels.
        height: pixels.
        percent: y values are shares shown as percentages.
        every_point: draw every finite point (the series is already downsampled, see
            :func:`downsample`); by default a long series is thinned per pixel column.

    Returns:
        The ``<svg>`` element (``Markup``, safe to put in a template).

    Example:
        >>> line_chart({"loss": ([0, 1, 2], [1.0, 0.5, 0.25])}, title="loss")  # doctest: +ELLIPSIS
        Markup('<svg ...')
    """
    left, right, top, bottom = 64, 16, 26 if title else 12, 44
    pw, ph = width - left - right, height - top - bottom
    cleaned: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (xs, ys) in series.items():
        ys_clean = ys if isinstance(ys, np.ndarray) else [
            math.nan if v is None else float(v) for v in ys]
        cleaned[name] = finite_sorted(xs, ys_clean) if every_point else thin(
            xs, ys_clean, pw)
    xs_all = [c[0] for c in cleaned.values() if c[0].size]
    ys_all = [c[1] for c in cleaned.values() if c[1].size]
    out = [_svg_open(width, height, title or y_label or "chart", "line")]
    if title:
        out.append(f'<text x="{left}" y="15" {_FONT} font-weight="600">{escape(title)}</text>')
    if not xs_all:
        out.append(f'<text x="{width / 2}" y="{height / 2}" {_FONT} text-anchor="middle" '
                   'fill="#64748b">no data yet</text></svg>')
        return Markup("".join(out))
    x_lo = float(min(a.min() for a in xs_all))
    x_hi = float(max(a.max() for a in xs_all))
    y_lo = float(min(a.min() for a in ys_all))
    y_hi = float(max(a.max() for a in ys_all))
    if threshold is not None:
        y_lo, y_hi = min(y_lo, threshold), max(y_hi, threshold)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - (abs(y_lo) * 0.1 or 1.0), y_hi + (abs(y_hi) * 0.1 or 1.0)
    pad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = y_lo - pad, y_hi + pad
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1

    def sx(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * pw

    def sy(v: float) -> float:
        return top + ph - (v - y_lo) / (y_hi - y_lo) * ph

    out.append(f'<g class="axes" stroke="#cbd5e1" stroke-width="1">'
               f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}"/>'
               f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/></g>')
    for t in nice_ticks(y_lo, y_hi):
        ty = sy(t)
        label = f"{t:.0%}" if percent else fmt(t)
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + pw}" y2="{ty:.1f}" '
                   f'stroke="#f1f5f9"/><text x="{left - 6}" y="{ty + 4:.1f}" {_FONT} '
                   f'text-anchor="end" fill="#475569">{label}</text>')
    x_ticks = _time_ticks(x_lo, x_hi) if time_axis else nice_ticks(x_lo, x_hi, 6)
    for t in x_ticks:
        tx = sx(t)
        label = _time_label(t, x_hi - x_lo) if time_axis else fmt(t)
        out.append(f'<line x1="{tx:.1f}" y1="{top + ph}" x2="{tx:.1f}" y2="{top + ph + 4}" '
                   f'stroke="#94a3b8"/><text x="{tx:.1f}" y="{top + ph + 16}" {_FONT} '
                   f'text-anchor="middle" fill="#475569">{label}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" {_FONT} text-anchor="middle" '
               f'fill="#334155">{escape(x_label)}</text>')
    if y_label:
        out.append(f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" {_FONT} '
                   f'text-anchor="middle" fill="#334155">{escape(y_label)}</text>')
    if threshold is not None:
        ty = sy(threshold)
        out.append(f'<line class="threshold" x1="{left}" y1="{ty:.1f}" x2="{left + pw}" '
                   f'y2="{ty:.1f}" stroke="#dc2626" stroke-dasharray="5 4"><title>threshold '
                   f'{fmt(threshold)}</title></line>')
    for i, (name, (x, y)) in enumerate(cleaned.items()):
        colour = PALETTE[i % len(PALETTE)]
        if x.size == 0:
            continue
        # one C-level format call for every coordinate (sx and sy work on arrays too)
        flat: list[float] = np.column_stack((sx(x), sy(y))).ravel().tolist()  # type: ignore[arg-type]
        points = ("%.1f,%.1f " * x.size % tuple(flat)).rstrip()
        last = f"{escape(name)}: last {fmt(float(y[-1]))} at {fmt(float(x[-1]))}"
        if x.size == 1:
            out.append(f'<circle class="series" cx="{sx(x[0]):.1f}" cy="{sy(y[0]):.1f}" r="3"'
                       f' fill="{colour}"><title>{last}</title></circle>')
        else:
            out.append(f'<polyline class="series" data-series="{escape(name)}" fill="none" '
                       f'stroke="{colour}" stroke-width="1.6" points="{points}">'
                       f'<title>{last}</title></polyline>')
    if len(cleaned) > 1 or (cleaned and y_label == ""):
        lx = left + 8.0
        for i, name in enumerate(cleaned):
            colour = PALETTE[i % len(PALETTE)]
            out.append(f'<rect x="{lx}" y="{top + 4}" width="10" height="3" fill="{colour}"/>'
                       f'<text x="{lx + 14}" y="{top + 9}" {_FONT} fill="#334155">'
                       f'{escape(name)}</text>')
            lx += 24 + 6.5 * len(name)
    out.append("</svg>")
    return Markup("".join(out))


def histogram(labels: Sequence[Any], reference: Sequence[float], current: Sequence[float], *,
              numeric: bool, title: str = "", x_label: str = "", width: int = 560,
              height: int = 260) -> Markup:
    """Reference and current shares of rows per bin, side by side, with axes.

    Args:
        labels: numeric bins: their edges (one more than the bars); categories: the names.
        reference: share of reference rows per bar.
        current: share of current rows per bar.
        numeric: whether the bars are bins of a number.
        title: the chart's name.
        x_label: the x axis title (the feature).
        width: pixels.
        height: pixels.

    Returns:
        The ``<svg>`` element.
    """
    left, right, top, bottom = 56, 12, 30, 52
    pw, ph = width - left - right, height - top - bottom
    n = min(len(reference), len(current))
    out = [_svg_open(width, height, title or f"histogram of {x_label}", "histogram")]
    if title:
        out.append(f'<text x="{left}" y="15" {_FONT} font-weight="600">{escape(title)}</text>')
    if n == 0:
        out.append("</svg>")
        return Markup("".join(out))
    top_share = max(max(reference[:n]), max(current[:n]), 1e-9)
    ticks = nice_ticks(0.0, top_share * 1.05, 4)
    y_max = max(ticks[-1] if ticks else top_share, top_share)
    bar_w = pw / n
    for t in ticks:
        y = top + ph - t / y_max * ph
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                   f'stroke="#f1f5f9"/><text x="{left - 6}" y="{y + 4:.1f}" {_FONT} '
                   f'text-anchor="end" fill="#475569">{t:.0%}</text>')
    for i in range(n):
        x = left + i * bar_w
        for j, (share, colour, who) in enumerate(((reference[i], REF_COLOUR, "reference"),
                                                   (current[i], CUR_COLOUR, "current"))):
            h = ph * float(share) / y_max
            where = (f"{fmt(labels[i])} to {fmt(labels[i + 1])}"
                     if numeric and i + 1 < len(labels) else
                     (str(labels[i]) if i < len(labels) else ""))
            out.append(f'<rect x="{x + 1 + j * (bar_w - 2) / 2:.1f}" y="{top + ph - h:.1f}" '
                       f'width="{max((bar_w - 2) / 2, 0.5):.1f}" height="{h:.1f}" '
                       f'fill="{colour}"><title>{who} {escape(where)}: {float(share):.1%}'
                       f'</title></rect>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" '
               'stroke="#94a3b8"/>')
    every = max(1, math.ceil(n / (pw / 60)))
    if numeric:
        for i in range(0, len(labels), every):
            x = left + i * bar_w
            out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" '
                       f'stroke="#94a3b8"/><text x="{x:.1f}" y="{top + ph + 16}" {_FONT} '
                       f'text-anchor="middle" fill="#475569">{fmt(labels[i], 3)}</text>')
    else:
        for i in range(0, min(n, len(labels)), every):
            text = str(labels[i])
            text = text if len(text) <= 12 else text[:11] + "…"
            out.append(f'<text x="{left + (i + 0.5) * bar_w:.1f}" y="{top + ph + 16}" '
                       f'{_FONT} text-anchor="middle" fill="#475569">{escape(text)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 18}" {_FONT} text-anchor="middle" '
               f'fill="#334155">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" {_FONT} '
               'text-anchor="middle" fill="#334155">share of rows</text>')
    lx = left + pw - 170
    for colour, name in ((REF_COLOUR, "reference"), (CUR_COLOUR, "current")):
        out.append(f'<rect x="{lx}" y="{top - 14}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{top - 5}" {_FONT} fill="#334155">{name}</text>')
        lx += 85
    out.append("</svg>")
    return Markup("".join(out))


def parallel_coordinates(axes: Sequence[str], rows: Sequence[Mapping[str, Any]], *,
                         colour_by: str | None = None, labels: Sequence[str] = (),
                         width: int = 760, height: int = 300) -> Markup:
    """One line per row across vertical axes (params, then the metric), coloured by
    ``colour_by`` from blue (low) to orange (high).

    Args:
        axes: the keys to draw, left to right; numbers get a linear axis, text a category
            axis.
        rows: the values per key (trials).
        colour_by: the key whose value colours each line (the study's metric).
        labels: a name per row, shown on hover.
        width: pixels.
        height: pixels.

    Returns:
        The ``<svg>`` element.
    """
    top, bottom, side = 30, 24, 50
    ph = height - top - bottom
    gap = (width - 2 * side) / max(len(axes) - 1, 1)
    out = [_svg_open(width, height, "parallel coordinates", "parallel")]
    scales: dict[str, Any] = {}
    for key in axes:
        values = [r.get(key) for r in rows]
        nums = [_as_float(v) for v in values]
        known = [v for v in nums if v is not None]
        if known and len(known) == len(nums):
            lo, hi = min(known), max(known)
            scales[key] = ("num", lo, hi if hi != lo else lo + 1)
        else:
            cats = sorted({str(v) for v in values if v is not None})
            scales[key] = ("cat", cats)

    def pos(key: str, value: Any) -> float | None:
        scale = scales[key]
        if value is None:
            return None
        if scale[0] == "num":
            v = _as_float(value)
            return None if v is None else top + ph - (v - scale[1]) / (scale[2] - scale[1]) * ph
        cats = scale[1]
        i = cats.index(str(value)) if str(value) in cats else 0
        return top + ph - (i + 0.5) / max(len(cats), 1) * ph

    c_scale = scales.get(colour_by) if colour_by else None
    for k, row in enumerate(rows):
        pts = []
        for i, key in enumerate(axes):
            y = pos(key, row.get(key))
            if y is not None:
                pts.append(f"{side + i * gap:.1f},{y:.1f}")
        colour = PALETTE[0]
        if c_scale and c_scale[0] == "num" and colour_by is not None:
            v = _as_float(row.get(colour_by))
            if v is not None:
                colour = _ramp((v - c_scale[1]) / (c_scale[2] - c_scale[1]))
        name = labels[k] if k < len(labels) else f"row {k + 1}"
        detail = ", ".join(f"{a}={fmt(row.get(a))}" for a in axes)
        out.append(f'<polyline class="trial" fill="none" stroke="{colour}" stroke-width="1.8" '
                   f'stroke-opacity="0.85" points="{" ".join(pts)}"><title>{escape(name)}: '
                   f'{escape(detail)}</title></polyline>')
    for i, key in enumerate(axes):
        x = side + i * gap
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                   f'stroke="#475569"/><text x="{x:.1f}" y="{top - 10}" {_FONT} '
                   f'text-anchor="middle" font-weight="600">{escape(key)}</text>')
        scale = scales[key]
        if scale[0] == "num":
            for v, y in ((scale[1], top + ph), (scale[2], top)):
                out.append(f'<text x="{x + 4:.1f}" y="{y + 4:.1f}" {_FONT} fill="#475569">'
                           f'{fmt(v, 3)}</text>')
        else:
            for j, cat in enumerate(scale[1][:12]):
                y = top + ph - (j + 0.5) / max(len(scale[1]), 1) * ph
                out.append(f'<text x="{x + 4:.1f}" y="{y + 4:.1f}" {_FONT} fill="#475569">'
                           f'{escape(cat[:14])}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _as_float(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _ramp(t: float) -> str:
    """A blue-to-orange colour for ``t`` in [0, 1]."""
    t = min(max(t, 0.0), 1.0)
    a, b = (37, 99, 235), (234, 88, 12)
    r, g, bl = (round(a[i] + (b[i] - a[i]) * t) for i in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"
