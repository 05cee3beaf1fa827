"""The drift of a window against its reference profile, per feature, from its counts.

Each column's window counts (:class:`FeatureCounts`, counted by
:class:`~._counts.DriftCounts`) give its statistics against the reference's counts
(:mod:`._statistics`: PSI, Kolmogorov-Smirnov, chi-squared, Jensen-Shannon), and the
thresholds say whether it drifted.

A feature has drifted when (documented defaults, all settings):

- its PSI exceeds ``psi_threshold`` (0.2), or
- numeric: the KS p-value is below ``ks_pvalue_threshold`` (0.01) *and* ``D`` is at least
  ``ks_min_statistic`` (0.1), or
- categorical: the chi-squared p-value is below ``chi2_pvalue_threshold`` (0.01) *and* the
  JS distance is at least ``js_threshold`` (0.1).

PSI grows as windows shrink (about ``(bins - 1) / n`` for stable data), so it is only
computed (and only counts) from ``psi_min_rows`` (200) rows on; below, the tests decide.
The effect-size conditions keep huge windows, where any test rejects for differences
nobody cares about, from flagging everything. Each test is per feature, uncorrected for the
number of features: at the p-value threshold alone a stable feature is flagged in about 1%
of windows (the test suite checks this on 200 seeded windows); with the effect sizes, less.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import default
from ._profile import FeatureProfile, NumericProfile
from ._statistics import chi2_js, compute_psi, ks_from_cdfs

__all__ = [
    "DataDrift",
    "DriftThresholds",
    "FeatureCounts",
    "FeatureDrift",
    "compare",
]

DISPLAY_BINS = 40


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature counts as drifted (see the module docstring); the defaults are the
    settings' declared ones (``modelyard.config``).

    Example:
        >>> DriftThresholds().psi_threshold
        0.2
    """

    psi_threshold: float = default("psi_threshold")
    ks_pvalue_threshold: float = default("ks_pvalue_threshold")
    ks_min_statistic: float = default("ks_min_statistic")
    chi2_pvalue_threshold: float = default("chi2_pvalue_threshold")
    js_threshold: float = default("js_threshold")
    psi_min_rows: int = default("psi_min_rows")


@dataclass
class FeatureCounts:
    """One column's window counts in its reference buckets (mutable, additive)."""

    counts: np.ndarray
    missing: int = 0
    out_of_range: int = 0

    @property
    def n(self) -> int:
        """Rows with a value."""
        return int(self.counts.sum())

    def add(self, other: FeatureCounts) -> None:
        """Add another window's counts of the same column."""
        self.counts += other.counts
        self.missing += other.missing
        self.out_of_range += other.out_of_range


@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one column in one window.

    Attributes:
        name: the column.
        kind: ``numeric`` or ``categorical``.
        n: window rows with a value.
        missing_rate: share of window rows without a value.
        reference_missing_rate: the same in the reference.
        out_of_range_rate: share of values outside the schema's range or categories.
        psi: population stability index.
        test: ``ks`` or ``chi2``.
        statistic: the KS ``D`` or the chi-squared statistic.
        p_value: the test's p-value.
        js: Jensen-Shannon distance (categorical), else ``None``.
        drifted: whether the thresholds call it drifted.
        reasons: which conditions fired, e.g. ``("psi", "ks")``.
        histogram: for pictures: ``labels`` (numeric: bucket edges, one more than the
            bars; categorical: the categories), ``reference`` and ``current`` shares.
    """

    name: str
    kind: str
    n: int
    missing_rate: float
    reference_missing_rate: float
    out_of_range_rate: float
    psi: float | None
    test: str
    statistic: float | None
    p_value: float | None
    js: float | None
    drifted: bool
    reasons: tuple[str, ...] = ()
    histogram: dict[str, list[Any]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"name": self.name, "kind": self.kind, "n": self.n,
                "missing_rate": self.missing_rate,
                "reference_missing_rate": self.reference_missing_rate,
                "out_of_range_rate": self.out_of_range_rate, "psi": self.psi,
                "test": self.test, "statistic": self.statistic, "p_value": self.p_value,
                "js": self.js, "drifted": self.drifted, "reasons": list(self.reasons),
                "histogram": self.histogram}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDrift:
        """Read the JSON form back."""
        return cls(name=data["name"], kind=data["kind"], n=int(data["n"]),
                   missing_rate=float(data["missing_rate"]),
                   reference_missing_rate=float(data["reference_missing_rate"]),
                   out_of_range_rate=float(data["out_of_range_rate"]), psi=data.get("psi"),
                   test=data["test"], statistic=data.get("statistic"),
                   p_value=data.get("p_value"), js=data.get("js"),
                   drifted=bool(data["drifted"]), reasons=tuple(data.get("reasons", ())),
                   histogram=dict(data.get("histogram", {})))


@dataclass(frozen=True)
class DataDrift:
    """The drift of every column of one window.

    Attributes:
        features: one result per column, in profile order.
    """

    features: tuple[FeatureDrift, ...]

    @property
    def drifted(self) -> tuple[str, ...]:
        """Names of the drifted columns."""
        return tuple(f.name for f in self.features if f.drifted)

    @property
    def share_drifted(self) -> float:
        """Drifted columns over all columns with data."""
        tested = [f for f in self.features if f.n]
        return len([f for f in tested if f.drifted]) / len(tested) if tested else 0.0

    def __getitem__(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataDrift:
        """Read the JSON form back."""
        return cls(tuple(FeatureDrift.from_dict(f) for f in data.get("features", [])))


def _display_numeric(profile: NumericProfile, cur: np.ndarray) -> dict[str, list[Any]]:
    """Fine buckets merged into about DISPLAY_BINS bars of equal reference mass."""
    edges = profile.edges
    if edges.size < 2:
        return {}
    inner = np.unique(np.linspace(0, edges.size - 1, DISPLAY_BINS + 1).round().astype(int))
    # bars between consecutive chosen edges; the first bar also takes values <= edges[0],
    # the last also those above edges[-1] (shown separately as tails)
    cum_ref = np.concatenate([[0], np.cumsum(profile.counts)])
    cum_cur = np.concatenate([[0], np.cumsum(cur)])
    ref_bars = np.diff(cum_ref[inner + 1])
    cur_bars = np.diff(cum_cur[inner + 1])
    ref_bars[0] += profile.counts[0]
    cur_bars[0] += cur[0]
    nr, nc = max(int(profile.counts.sum()), 1), max(int(cur.sum()), 1)
    return {"labels": edges[inner].tolist(), "reference": (ref_bars / nr).tolist(),
            "current": (cur_bars / nc).tolist(),
            "above": [float(profile.counts[-1] / nr), float(cur[-1] / nc)]}


def _compare_one(profile: FeatureProfile, found: FeatureCounts | None,
                 th: DriftThresholds) -> FeatureDrift:
    ref_total = profile.n + profile.missing
    ref_missing = profile.missing / ref_total if ref_total else 0.0
    kind = profile.kind
    test = "ks" if kind == "numeric" else "chi2"
    if found is None or found.n == 0:
        rows = 0 if found is None else found.missing
        return FeatureDrift(profile.name, kind, 0, 1.0 if rows else 0.0, ref_missing, 0.0,
                            None, test, None, None, None, False)
    n = found.n
    rows = n + found.missing
    reasons: list[str] = []
    js: float | None = None
    psi: float | None
    if isinstance(profile, NumericProfile):
        groups = np.searchsorted(profile.psi_cuts, np.arange(profile.edges.size + 1),
                                 side="left")
        psi = compute_psi(np.bincount(groups, weights=profile.counts),
                          np.bincount(groups, weights=found.counts))
        ref_cdf = np.cumsum(profile.counts)[:-1] / max(profile.n, 1)
        cur_cdf = np.cumsum(found.counts)[:-1] / n
        statistic, p = ks_from_cdfs(ref_cdf, cur_cdf, profile.n, n)
        if p < th.ks_pvalue_threshold and statistic >= th.ks_min_statistic:
            reasons.append("ks")
        histogram = _display_numeric(profile, found.counts)
    else:
        psi = compute_psi(profile.counts.astype(np.float64), found.counts.astype(np.float64))
        statistic, p, js = chi2_js(profile.counts, found.counts)
        if p < th.chi2_pvalue_threshold and js >= th.js_threshold:
            reasons.append("chi2")
        shown = min(len(profile.categories), 20)
        nr, nc = max(profile.n, 1), n
        histogram = {"labels": [*profile.categories[:shown], "(other)"],
                     "reference": [*(profile.counts[:shown] / nr).tolist(),
                                   float(profile.counts[shown:].sum() / nr)],
                     "current": [*(found.counts[:shown] / nc).tolist(),
                                 float(found.counts[shown:].sum() / nc)]}
    if n < th.psi_min_rows:
        psi = None
    elif psi > th.psi_threshold:
        reasons.insert(0, "psi")
    return FeatureDrift(
        name=profile.name, kind=kind, n=n, missing_rate=found.missing / rows,
        reference_missing_rate=ref_missing, out_of_range_rate=found.out_of_range / n,
        psi=psi, test=test, statistic=statistic, p_value=p, js=js,
        drifted=bool(reasons), reasons=tuple(reasons), histogram=histogram)


def compare(profiles: Mapping[str, FeatureProfile], counts: Mapping[str, FeatureCounts],
            thresholds: DriftThresholds | None = None) -> DataDrift:
    """The drift of counted columns against their profiles."""
    th = thresholds or DriftThresholds()
    return DataDrift(tuple(_compare_one(p, counts.get(name), th)
                           for name, p in profiles.items()))
