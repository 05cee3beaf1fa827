"""Downsampling a long metric series: a bounded number of points that keep its shape."""

from __future__ import annotations

import math

import numpy as np

from modelyard.ui._sampling import downsample, thin


def test_downsample_keeps_the_ends_and_every_spans_extremes() -> None:
    steps = np.arange(100_000)
    values = np.sin(steps / 500.0)
    values[77_777], values[123] = 40.0, -40.0  # one-step spikes, up and down
    x, y = downsample(steps, values, 1000)
    assert 900 <= x.size <= 1000 and np.all(np.diff(x) > 0)
    assert (x[0], y[0]) == (0, values[0]) and (x[-1], y[-1]) == (99_999, values[-1])
    assert y[x == 77_777][0] == 40.0 and y[x == 123][0] == -40.0
    # each of the 499 spans of x keeps its own smallest and largest value
    span = np.minimum((steps / 99_999 * 499).astype(int), 498)
    kept = set(x.astype(int).tolist())
    for b in (0, 250, 498):
        inside = steps[span == b]
        assert int(inside[np.argmin(values[inside])]) in kept
        assert int(inside[np.argmax(values[inside])]) in kept


def test_short_series_come_back_whole_and_non_finite_values_are_dropped() -> None:
    x, y = downsample([3, 1, 2, 4], [0.3, 0.1, math.nan, math.inf], 1000)
    assert x.tolist() == [1.0, 3.0] and y.tolist() == [0.1, 0.3]
    x, y = downsample(range(10), [float(v) for v in range(10)], 4)
    assert x.tolist() == [0.0, 9.0]  # one span: its lowest and highest are the ends


def test_thin_keeps_each_columns_first_lowest_highest_and_last() -> None:
    steps = np.arange(10_000)
    values = np.cos(steps / 50.0)
    values[5_000] = 9.0
    x, y = thin(steps, values, 100)
    assert x.size <= 400 and x[0] == 0 and x[-1] == 9_999
    assert 9.0 in y.tolist() and np.all(np.diff(x) > 0)
