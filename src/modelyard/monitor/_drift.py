"""Drift statistics against a stored reference profile, vectorised, from bucket counts.

A window's rows are counted into the reference profile's buckets (:class:`DriftCounts`:
a batch of fewer than 256 rows has all its numeric columns counted at once, two
``searchsorted`` and one ``bincount`` over the whole batch; a taller one each column with
its own lookup table; one ``index_in`` per categorical column); counts add up, so a large
window is read in batches with bounded memory and the live view of the server keeps the
same counts. Every statistic is computed
from counts:

numeric columns
    PSI over the reference deciles (``sum((c - r) * ln(c / r))``, proportions floored at
    1e-4), and the two-sample Kolmogorov-Smirnov statistic ``D = max |F_ref - F_cur|``
    evaluated at the reference's fine quantile edges. The approximation: between two
    adjacent edges both distributions are monotone, so the exact ``D`` lies in
    ``[D_grid, D_grid + w]`` where ``w`` is the largest reference or current mass of one
    bucket (about 1/1000 of the reference, :data:`~._profile.FINE_BUCKETS`). Its p-value is
    the two-sided asymptotic one for samples of the reference's and the window's sizes
    (Stephens' corrected Kolmogorov distribution, within 0.025 of SciPy's ``ks_2samp``).
categorical columns
    PSI over the reference categories, Pearson's chi-squared test of the 2 x k table
    reference-vs-window counts (``k - 1`` degrees of freedom) and the Jensen-Shannon
    distance (base 2, in [0, 1]).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import special

from ._profile import (
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
    as_float_array,
    as_string_array,
)

__all__ = [
    "DataDrift",
    "DriftCounts",
    "DriftThresholds",
    "FeatureCounts",
    "FeatureDrift",
    "compare",
    "compute_drift",
    "compute_psi",
    "ks_from_cdfs",
]

PSI_FLOOR = 1e-4
DISPLAY_BINS = 40


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature counts as drifted (see the module docstring).

    Example:
        >>> DriftThresholds().psi_threshold
        0.2
    """

    psi_threshold: float = 0.2
    ks_pvalue_threshold: float = 0.01
    ks_min_statistic: float = 0.1
    chi2_pvalue_threshold: float = 0.01
    js_threshold: float = 0.1
    psi_min_rows: int = 200


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


def count_numeric(profile: NumericProfile, values: Any) -> FeatureCounts:
    """Count a batch of one numeric column into the profile's buckets."""
    x = as_float_array(values)
    nan = np.isnan(x)
    missing = int(nan.sum())
    if missing:
        x = x[~nan]
    idx = profile.bucket_index(x)
    counts = np.bincount(idx, minlength=profile.edges.size + 1).astype(np.int64)
    oor = 0
    if profile.low is not None:
        oor += int(np.count_nonzero(x < profile.low))
    if profile.high is not None:
        oor += int(np.count_nonzero(x > profile.high))
    return FeatureCounts(counts, missing, oor)


def count_categorical(profile: CategoricalProfile, values: Any) -> FeatureCounts:
    """Count a batch of one categorical column into the profile's categories."""
    arr = as_string_array(values)
    k = len(profile.categories)
    missing = arr.null_count
    idx = pc.index_in(arr, value_set=pa.array(profile.categories, type=pa.string()))
    flat = np.asarray(idx.fill_null(k).to_numpy(zero_copy_only=False), dtype=np.int64)
    counts = np.bincount(flat, minlength=k + 1).astype(np.int64)
    counts[k] -= missing
    oor = 0
    if profile.allowed is not None:
        known = pc.is_in(arr, value_set=pa.array(profile.allowed, type=pa.string()))
        oor = int(len(arr) - missing - (pc.sum(known).as_py() or 0))
    return FeatureCounts(counts, int(missing), oor)


def count(profile: FeatureProfile, values: Any) -> FeatureCounts:
    """Count a batch of one column into its profile's buckets."""
    if isinstance(profile, NumericProfile):
        return count_numeric(profile, values)
    return count_categorical(profile, values)


#: the most cells (columns x distinct edges of all columns) of a layout's bucket table
_TABLE_CELLS = 1 << 21


class _NumericLayout:
    """The numeric columns of a profile set, laid out to be counted all at once.

    Column ``j``'s buckets are ``flat[starts[j]:starts[j + 1]]`` of one count array. Its
    edges become integer keys ``j * stride + rank``, ``rank`` being the edge's place among
    the distinct edges of all columns (``values``); the keys of all columns form one sorted
    array. A value ``x`` of column ``j`` has ``g`` of ``values`` below it, and exactly the
    edges of column ``j`` whose rank is below ``g`` are below ``x``: so one ``searchsorted``
    of every value in ``values``, then one of the keys ``j * stride + g`` in ``keys`` (or,
    where all keys fit in :data:`_TABLE_CELLS`, a table read) give every value's bucket,
    exactly (the keys are integers). Built once per profile set.
    """

    def __init__(self, profiles: Mapping[str, FeatureProfile]) -> None:
        numeric = [(n, p) for n, p in profiles.items() if isinstance(p, NumericProfile)]
        self.names = tuple(n for n, _ in numeric)
        self.profiles = tuple(p for _, p in numeric)
        self.index = {n: j for j, n in enumerate(self.names)}
        sizes = np.array([p.edges.size for p in self.profiles], dtype=np.intp)
        self.starts = np.concatenate([[0], np.cumsum(sizes + 1)]).astype(np.intp)
        self.low = np.array([-np.inf if p.low is None else p.low for p in self.profiles])
        self.high = np.array([np.inf if p.high is None else p.high for p in self.profiles])
        self._picks: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    @cached_property
    def search(self) -> tuple[np.ndarray, int, np.ndarray, np.ndarray | None]:
        """``(values, stride, keys, table)``, built on the first block counted (a sort of
        every edge: 0.15 s for 784 columns of 1,000 edges)."""
        edges = [np.asarray(p.edges, dtype=np.float64) for p in self.profiles]
        every = np.concatenate(edges) if edges else np.empty(0)
        values = np.unique(every)
        stride = values.size + 1
        owner = np.repeat(np.arange(len(edges), dtype=np.intp), [e.size for e in edges])
        keys = np.searchsorted(values, every, side="left") + owner * stride
        table = None
        if len(edges) * stride <= _TABLE_CELLS:
            every_key = np.arange(len(edges) * stride, dtype=np.intp)
            table = (np.searchsorted(keys, every_key, side="left")
                     + every_key // stride).astype(np.int32)
        return values, stride, keys, table

    @property
    def buckets(self) -> int:
        """Buckets of all columns together."""
        return int(self.starts[-1])

    def pick(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(at, cols)``: the numeric ones among ``names``, as places in ``names`` and
        in this layout (remembered: a server passes the same names every batch)."""
        key = tuple(names)
        found = self._picks.get(key)
        if found is None:
            at = [i for i, n in enumerate(key) if n in self.index]
            found = (np.array(at, dtype=np.intp),
                     np.array([self.index[key[i]] for i in at], dtype=np.intp))
            if len(self._picks) < 8:
                self._picks[key] = found
        return found

    def bucket_index(self, x: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Each value's place in the flat count array (``x[:, i]`` is column ``cols[i]``);
        a NaN's is meaningless."""
        values, stride, keys, table = self.search
        key = np.searchsorted(values, x, side="left")
        key += cols * stride
        if table is not None:
            return table[key]
        found = np.searchsorted(keys, key, side="left")
        found += cols  # column j's buckets start j places after its first edge's key
        return found
#: a block is counted in row chunks of at most this many cells (bounds its temporaries)
_BLOCK_CELLS = 1 << 18
#: from this many rows on, columns are counted one by one: past the per-column overhead
#: (about 20 us), each column's lookup table (``NumericProfile.bucket_index``, 3-6 ns a
#: value) beats the block's binary searches (10-100 ns a value, more edges cost more)
_TALL_ROWS = 256


class DriftCounts:
    """A window's counts for every profiled column; feed it batches, then :meth:`compare`.

    The numeric columns' counts are kept in one array, so a batch of many numeric columns
    is counted with a few vectorised steps, whatever the number of columns (the counts
    equal those of :func:`count_numeric` column by column); categorical columns are counted
    one by one.

    Args:
        profiles: the reference profiles of the columns, by column name.

    Example:
        >>> counts = DriftCounts(profile.features)  # doctest: +SKIP
        >>> counts.update({"amount": batch.column("input.amount")})  # doctest: +SKIP
        >>> counts.update_matrix(matrix, ["amount", "age"])  # doctest: +SKIP
    """

    def __init__(self, profiles: Mapping[str, FeatureProfile], *,
                 _layout: _NumericLayout | None = None) -> None:
        self.profiles = profiles
        self._layout = _layout
        self._categorical: dict[str, FeatureCounts] = {}
        self._flat: np.ndarray | None = None
        self._missing = self._out_of_range = self._seen = np.empty(0, dtype=np.int64)

    @property
    def layout(self) -> _NumericLayout:
        """The numeric columns' layout, built on first use."""
        if self._layout is None:
            self._layout = _NumericLayout(self.profiles)
        return self._layout

    def empty_copy(self) -> DriftCounts:
        """A counter over the same profiles with nothing counted (sharing the layout)."""
        return DriftCounts(self.profiles, _layout=self.layout)

    @property
    def columns(self) -> dict[str, FeatureCounts]:
        """Each counted column's counts, in profile order (a copy)."""
        return self._counted(copy=True)

    def _counted(self, *, copy: bool) -> dict[str, FeatureCounts]:
        found: dict[str, FeatureCounts] = {}
        flat, layout = self._flat, self._layout
        for name in self.profiles:
            if name in self._categorical:
                c = self._categorical[name]
                found[name] = FeatureCounts(c.counts.copy() if copy else c.counts, c.missing,
                                            c.out_of_range)
            elif flat is not None and layout is not None:
                j = layout.index.get(name)
                if j is not None and self._seen[j]:
                    counts = flat[layout.starts[j]:layout.starts[j + 1]]
                    found[name] = FeatureCounts(counts.copy() if copy else counts,
                                                int(self._missing[j]),
                                                int(self._out_of_range[j]))
        return found

    def _numeric(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._flat is None:
            k = len(self.layout.names)
            self._flat = np.zeros(self.layout.buckets, dtype=np.int64)
            self._missing = np.zeros(k, dtype=np.int64)
            self._out_of_range = np.zeros(k, dtype=np.int64)
            self._seen = np.zeros(k, dtype=np.int64)
        return self._flat, self._missing, self._out_of_range, self._seen

    def update(self, batch: Mapping[str, Any]) -> None:
        """Count one batch; ``batch`` maps column names to values (absent columns skip)."""
        layout = self.layout
        present = [n for n in layout.names if n in batch]
        if present:
            values = [as_float_array(batch[n]) for n in present]
            cols = np.array([layout.index[n] for n in present], dtype=np.intp)
            if len({v.shape for v in values}) == 1 and values[0].ndim == 1:
                self._count_columns(values, cols)
            else:  # columns of unequal length: each on its own
                for v, j in zip(values, cols.tolist(), strict=True):
                    self._count_columns([v.reshape(-1)], np.array([j], dtype=np.intp))
        for name, profile in self.profiles.items():
            if isinstance(profile, CategoricalProfile) and name in batch:
                self._add_categorical(name, count_categorical(profile, batch[name]))

    def update_matrix(self, matrix: np.ndarray, names: Sequence[str]) -> None:
        """Count one 2-D batch whose columns are ``names`` (unprofiled ones skip).

        The numeric columns are counted straight from the matrix, with no step per column
        for batches under ``_TALL_ROWS`` (256) rows.
        """
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ValueError(f"expected a 2-D array with {len(names)} columns, got shape "
                             f"{matrix.shape}")
        at, cols = self.layout.pick(names)
        if at.size:
            if matrix.shape[0] >= _TALL_ROWS:
                self._count_columns([as_float_array(matrix[:, i]) for i in at.tolist()], cols)
            else:
                block = matrix if at.size == matrix.shape[1] and \
                    np.array_equal(at, np.arange(at.size)) else matrix[:, at]
                self._count_block(np.asarray(block, dtype=np.float64), cols)
        for i, name in enumerate(names):
            profile = self.profiles.get(name)
            if isinstance(profile, CategoricalProfile):
                self._add_categorical(name, count_categorical(profile, matrix[:, i]))

    def _count_columns(self, values: Sequence[np.ndarray], cols: np.ndarray) -> None:
        """Count equally long 1-D columns (``values[i]`` is layout column ``cols[i]``)."""
        if values[0].size >= _TALL_ROWS or len(values) == 1:
            flat, missing, out_of_range, seen = self._numeric()
            starts = self.layout.starts
            for v, j in zip(values, cols.tolist(), strict=True):
                found = count_numeric(self.layout.profiles[j], v)
                flat[starts[j]:starts[j + 1]] += found.counts
                missing[j] += found.missing
                out_of_range[j] += found.out_of_range
                seen[j] = 1
        else:
            self._count_block(np.column_stack(values), cols)

    def _count_block(self, x: np.ndarray, cols: np.ndarray) -> None:
        """Count a float matrix (``x[:, i]`` is layout column ``cols[i]``) in row chunks."""
        flat, missing, out_of_range, seen = self._numeric()
        layout = self.layout
        seen[cols] = 1
        low, high = layout.low[cols], layout.high[cols]
        step = max(_BLOCK_CELLS // max(x.shape[1], 1), 1)
        for start in range(0, x.shape[0], step):
            chunk = x[start:start + step]
            nan = np.isnan(chunk)
            bins = layout.bucket_index(chunk, cols)
            if nan.any():
                missing[cols] += nan.sum(axis=0)
                bins = bins[~nan]
            flat += np.bincount(bins.reshape(-1), minlength=flat.size)
            # NaN compares false, so it is neither below nor above the range
            out_of_range[cols] += np.count_nonzero(chunk < low, axis=0) + \
                np.count_nonzero(chunk > high, axis=0)

    def _add_categorical(self, name: str, found: FeatureCounts) -> None:
        if name in self._categorical:
            self._categorical[name].add(found)
        else:
            self._categorical[name] = found

    def merge(self, other: DriftCounts) -> None:
        """Add another window's counts (of the same profiles)."""
        for name, found in other._categorical.items():
            self._add_categorical(name, FeatureCounts(found.counts.copy(), found.missing,
                                                      found.out_of_range))
        if other._flat is None:
            return
        flat, missing, out_of_range, seen = self._numeric()
        if other.layout is self.layout or other.layout.profiles == self.layout.profiles:
            flat += other._flat
            missing += other._missing
            out_of_range += other._out_of_range
            seen |= other._seen
            return
        starts = self.layout.starts
        for name, found in other.columns.items():
            j = self.layout.index.get(name)
            if j is not None:
                flat[starts[j]:starts[j + 1]] += found.counts
                missing[j] += found.missing
                out_of_range[j] += found.out_of_range
                seen[j] = 1

    def compare(self, thresholds: DriftThresholds | None = None) -> DataDrift:
        """The drift of the counted window against the reference."""
        return compare(self.profiles, self._counted(copy=False),
                       thresholds or DriftThresholds())


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


def compute_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two count (or share) vectors over the same bins.

    Example:
        >>> round(compute_psi(np.array([50, 50]), np.array([50, 50])), 6)
        0.0
    """
    r = np.maximum(reference / max(reference.sum(), 1), PSI_FLOOR)
    c = np.maximum(current / max(current.sum(), 1), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_from_cdfs(ref_cdf: np.ndarray, cur_cdf: np.ndarray, n_ref: int,
                 n_cur: int) -> tuple[float, float]:
    """``(D, p)``: the KS statistic at shared grid points and its asymptotic p-value.

    The p-value is the asymptotic two-sided one for the effective size
    ``n = n_ref * n_cur / (n_ref + n_cur)``, with Stephens' correction:
    ``Q_KS((sqrt(n) + 0.12 + 0.11 / sqrt(n)) * D)``.
    """
    if n_ref == 0 or n_cur == 0:
        return float("nan"), float("nan")
    d = float(np.max(np.abs(ref_cdf - cur_cdf))) if ref_cdf.size else 0.0
    en = n_ref * n_cur / (n_ref + n_cur)
    # Kolmogorov's limiting distribution with Stephens' small-sample correction: within
    # 0.025 of SciPy's exact-in-n tail from n = 5 on, and cheap (scipy.stats.kstwo takes up
    # to a second for large n, and importing scipy.stats costs ~50 MB of memory)
    root = np.sqrt(en)
    p = special.kolmogorov((root + 0.12 + 0.11 / root) * d)
    return d, float(np.clip(p, 0.0, 1.0))


def _chi2_js(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    keep = (ref + cur) > 0
    r, c = ref[keep].astype(np.float64), cur[keep].astype(np.float64)
    nr, nc = r.sum(), c.sum()
    if r.size < 2 or nr == 0 or nc == 0:
        return 0.0, 1.0, 0.0
    total = r + c
    er, ec = total * nr / (nr + nc), total * nc / (nr + nc)
    chi2 = float(np.sum((r - er) ** 2 / er + (c - ec) ** 2 / ec))
    p = float(special.chdtrc(r.size - 1, chi2))
    pr, pcur = r / nr, c / nc
    m = (pr + pcur) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_r = np.where(pr > 0, pr * np.log2(pr / m), 0.0).sum()
        kl_c = np.where(pcur > 0, pcur * np.log2(pcur / m), 0.0).sum()
    js = float(np.sqrt(max((kl_r + kl_c) / 2, 0.0)))
    return chi2, p, js


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
        statistic, p, js = _chi2_js(profile.counts, found.counts)
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


def compute_drift(profiles: Mapping[str, FeatureProfile], data: Mapping[str, Any],
                  thresholds: DriftThresholds | None = None) -> DataDrift:
    """Drift of a whole frame (a DataFrame, an Arrow table, or a column mapping) at once.

    Example:
        >>> drift = compute_drift(profile.features, current_frame)  # doctest: +SKIP
        >>> drift.drifted  # doctest: +SKIP
        ('amount',)
    """
    counter = DriftCounts(profiles)
    names = set(data.column_names) if isinstance(data, pa.Table) else set(data.keys())
    counter.update({n: data[n] for n in profiles if n in names})
    return counter.compare(thresholds)
