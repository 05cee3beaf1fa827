"""Fewer points that draw like many: a long metric series cut to a bounded number of points
that keep its shape (first and last point, each span's smallest and largest value), done with
NumPy over whole arrays.

The run page draws each curve from at most :data:`CURVE_POINTS` points of
:func:`downsample` and says so ("showing 1,000 of 10,000 points"); the full history stays a
download away. Charts thin longer series per pixel column with :func:`thin`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["CURVE_POINTS", "downsample", "finite_sorted", "thin"]

#: The most points the run page draws per curve.
CURVE_POINTS = 1000


def finite_sorted(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The finite points of a series, in x order (stable)."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.all():
        x, y = x[keep], y[keep]
    if x.size > 1 and bool(np.any(x[1:] < x[:-1])):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return x, y


def _extremes(x: np.ndarray, y: np.ndarray, buckets: int, *, ends: bool) -> np.ndarray:
    """Indices, in order, of each bucket's smallest and largest y (and with ``ends`` its
    first and last point), the buckets cutting ``x`` (sorted) into equal widths."""
    span = x[-1] - x[0] or 1.0
    bucket = np.minimum(((x - x[0]) / span * buckets).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    last = np.r_[starts[1:], x.size] - 1
    # sorted by bucket, then y (stable): each bucket's first is its min, its last its max
    by_y = np.lexsort((y, bucket))
    picks = [by_y[starts], by_y[last]]
    if ends:
        picks += [starts, last]
    return np.unique(np.concatenate(picks))


def thin(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray, columns: int
         ) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``4 * columns`` points that draw like the series: in each column of x,
    the first, smallest, largest and last values, in x order. Non-finite values are dropped.
    """
    x, y = finite_sorted(xs, ys)
    if x.size <= 2 * columns or columns < 1:
        return x, y
    idx = _extremes(x, y, columns, ends=True)
    return x[idx], y[idx]


def downsample(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray,
               max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a series that keep its shape: the first and the
    last point, and in each of ``(max_points - 2) // 2`` equal spans of x the smallest and
    the largest value, so a one-step spike survives. Non-finite values are dropped; a series
    short enough comes back whole (sorted by x).

    Args:
        xs: the steps (or times).
        ys: the values.
        max_points: the most points to keep (at least 4).

    Returns:
        ``(x, y)`` arrays, in x order.

    Example:
        >>> x, y = downsample(range(100_000), [0.0] * 50_000 + [9.0] + [0.0] * 49_999, 1000)
        >>> len(x) <= 1000, float(y.max())
        (True, 9.0)
    """
    x, y = finite_sorted(xs, ys)
    if x.size <= max_points:
        return x, y
    idx = _extremes(x, y, max(1, (max_points - 2) // 2), ends=False)
    idx = np.unique(np.r_[0, idx, x.size - 1])
    return x[idx], y[idx]
