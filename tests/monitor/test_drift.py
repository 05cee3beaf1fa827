"""Drift statistics from stored reference buckets: agreement with SciPy, planted shifts
found and named, and the false-alarm rate of stable data at the documented thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from modelyard.monitor import (
    DriftCounts,
    DriftThresholds,
    ReferenceProfile,
    build_profile,
    compute_drift,
    compute_psi,
)
from modelyard.monitor._counts import count_numeric
from modelyard.monitor._profile import FINE_BUCKETS, NumericProfile, profile_numeric

CATS = np.array(["a", "b", "c", "d", "e"])
CAT_P = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
N_NUMERIC = 10


def _frame(rng: np.random.Generator, n: int, *, shift: float = 0.0,
           cat_p: np.ndarray = CAT_P) -> pd.DataFrame:
    cols: dict[str, object] = {f"x{i}": rng.normal(size=n) for i in range(N_NUMERIC)}
    cols["x3"] = rng.normal(size=n) + shift
    cols["skewed"] = rng.lognormal(0, 2, size=n)
    cols["count"] = rng.poisson(3, size=n).astype(np.int64)
    cols["colour"] = rng.choice(CATS, size=n, p=cat_p)
    cols["flag"] = rng.random(n) < 0.3
    return pd.DataFrame(cols)


TYPES = {**{f"x{i}": "float" for i in range(N_NUMERIC)}, "skewed": "float",
         "count": "integer", "colour": "categorical", "flag": "boolean"}


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return build_profile(_frame(np.random.default_rng(0), 20_000), TYPES, model="m")


@pytest.mark.parametrize("kind", ["normal", "shifted", "ties", "skewed", "small"])
def test_ks_from_buckets_matches_scipy(kind: str) -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=50_000), rng.normal(size=3000)
    if kind == "shifted":
        cur = cur + 0.2
    elif kind == "ties":
        ref, cur = rng.poisson(4, 50_000).astype(float), rng.poisson(4.3, 3000).astype(float)
    elif kind == "skewed":
        ref, cur = rng.lognormal(0, 2, 50_000), rng.lognormal(0.1, 2, 3000)
    elif kind == "small":
        ref, cur = rng.normal(size=300), rng.normal(size=200) + 0.3
    prof = profile_numeric("x", ref)
    drift = compute_drift({"x": prof}, {"x": cur})["x"]
    exact = stats.ks_2samp(ref, cur, method="asymp")
    assert drift.statistic is not None and drift.p_value is not None
    # the documented bound: D_grid <= D <= D_grid + one bucket's mass
    assert drift.statistic <= exact.statistic + 1e-12
    assert exact.statistic - drift.statistic <= 1 / FINE_BUCKETS + 5 / len(cur)
    assert abs(np.log10(max(drift.p_value, 1e-300)) - np.log10(max(exact.pvalue, 1e-300))) \
        < 0.5 or abs(drift.p_value - exact.pvalue) < 0.02


@pytest.mark.parametrize("kind", ["normal", "skewed", "ints", "constant", "outliers"])
def test_bucket_index_is_a_binary_search(kind: str) -> None:
    rng = np.random.default_rng(2)
    ref = {"normal": rng.normal(size=10_000), "skewed": rng.lognormal(0, 3, 10_000),
           "ints": rng.integers(0, 7, 10_000).astype(float), "constant": np.ones(100),
           "outliers": np.append(rng.normal(size=10_000), [1e9, -1e9])}[kind]
    prof = profile_numeric("x", ref)
    values = np.concatenate([ref[:5000] * 1.3 + 0.1, prof.edges, [-np.inf, np.inf, 1e300]])
    got = prof.bucket_index(values.copy())
    assert np.array_equal(got, np.searchsorted(prof.edges, values, side="left"))
    assert NumericProfile.from_dict(prof.to_dict()).bucket_index(values).tolist() == \
        got.tolist()


def test_a_planted_shift_in_one_feature_is_found_and_named(profile: ReferenceProfile) -> None:
    current = _frame(np.random.default_rng(5), 5000, shift=0.5)
    drift = compute_drift(profile.features, current)
    assert drift.drifted == ("x3",)
    x3 = drift["x3"]
    assert x3.reasons[-1] == "ks" and x3.statistic is not None and x3.statistic > 0.15
    assert x3.histogram["labels"] and len(x3.histogram["reference"]) == \
        len(x3.histogram["labels"]) - 1


def test_a_planted_shift_in_a_category_is_found(profile: ReferenceProfile) -> None:
    current = _frame(np.random.default_rng(6), 5000, cat_p=np.array([0.1, 0.2, 0.2, 0.2, 0.3]))
    drift = compute_drift(profile.features, current)
    assert drift.drifted == ("colour",)
    assert drift["colour"].js is not None and drift["colour"].js > 0.1
    assert set(drift["colour"].reasons) == {"psi", "chi2"}


def test_missing_and_out_of_range_rates(profile: ReferenceProfile) -> None:
    current = _frame(np.random.default_rng(7), 1000)
    current.loc[:99, "x0"] = np.nan
    current.loc[:49, "x1"] = 1e6
    current["colour"] = current["colour"].astype(object)
    current.loc[:9, "colour"] = "zebra"
    drift = compute_drift(profile.features, current)
    assert drift["x0"].missing_rate == pytest.approx(0.1)
    assert drift["x0"].reference_missing_rate == 0.0
    assert drift["x1"].out_of_range_rate == pytest.approx(0.05)
    assert drift["colour"].n == 1000


def test_counts_from_batches_add_up_to_the_whole(profile: ReferenceProfile) -> None:
    current = _frame(np.random.default_rng(8), 3000, shift=0.3)
    whole = compute_drift(profile.features, current)
    parts = DriftCounts(profile.features)
    for start in range(0, 3000, 700):
        piece = DriftCounts(profile.features)
        piece.update({c: current[c].iloc[start:start + 700] for c in current.columns})
        parts.merge(piece)
    assert parts.compare() == whole


def test_false_alarm_rate_on_stable_data_is_nominal(profile: ReferenceProfile) -> None:
    """200 seeded windows of 1,000 rows from the reference distribution: the KS and
    chi-squared p-values fall below 0.01 about 1% of the time (calibrated tests), and no
    feature crosses the documented drift thresholds more often than that."""
    th = DriftThresholds()
    rng = np.random.default_rng(123)
    ks_p: list[float] = []
    chi2_p: list[float] = []
    flagged = psi_alarms = tests = 0
    for _ in range(200):
        drift = compute_drift(profile.features, _frame(rng, 1000), th)
        for f in drift.features:
            assert f.p_value is not None and f.psi is not None
            if f.name.startswith("x") or f.name == "skewed":
                ks_p.append(f.p_value)
            elif f.name == "colour":
                chi2_p.append(f.p_value)
            flagged += f.drifted
            psi_alarms += f.psi > th.psi_threshold
            tests += 1
    ks_rate = np.mean(np.asarray(ks_p) < th.ks_pvalue_threshold)
    chi2_rate = np.mean(np.asarray(chi2_p) < th.chi2_pvalue_threshold)
    # 2,200 KS tests at 1%: 22 expected, a binomial 99.9% band is about 9-39
    assert 0.004 <= ks_rate <= 0.018, ks_rate
    assert chi2_rate <= 0.035, chi2_rate
    assert flagged / tests <= 0.01 and psi_alarms == 0


def test_psi_of_known_shares() -> None:
    ref, cur = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    expected = (0.25 - 0.5) * np.log(0.5) + (0.75 - 0.5) * np.log(1.5)
    assert compute_psi(ref, cur) == pytest.approx(expected)


def test_profile_round_trips_through_json(profile: ReferenceProfile) -> None:
    back = ReferenceProfile.from_dict(profile.to_dict())
    current = _frame(np.random.default_rng(9), 500, shift=1.0)
    assert compute_drift(back.features, current) == compute_drift(profile.features, current)


def _wide_profiles(rng: np.random.Generator, continuous: int) -> dict[str, NumericProfile]:
    """Numeric profiles of every shape the counting meets: continuous, skewed, ties,
    constant, pixel-like (mostly zero), with and without allowed ranges."""
    n = 4000
    shapes = [lambda: rng.normal(size=n), lambda: rng.lognormal(0, 2, n),
              lambda: rng.integers(0, 7, n).astype(float), lambda: np.full(n, 3.0),
              lambda: np.where(rng.random(n) < 0.8, 0.0, rng.integers(1, 256, n) / 255)]
    ranges = [(None, None), (-1.0, 1.0), (0.0, None), (None, 5.0)]
    profiles = {}
    for j in range(continuous + 40):
        values = shapes[0]() if j < continuous else shapes[j % len(shapes)]()
        low, high = ranges[j % len(ranges)]
        profiles[f"c{j}"] = profile_numeric(f"c{j}", values, low=low, high=high)
    return profiles


def _served(rng: np.random.Generator, profiles: dict[str, NumericProfile],
            rows: int) -> np.ndarray:
    """Rows near the references, with NaN, +-inf, far out-of-range values and values
    exactly on bucket edges."""
    x = rng.normal(scale=2.0, size=(rows, len(profiles)))
    for j, p in enumerate(profiles.values()):
        on_edge = rng.random(rows) < 0.3
        x[on_edge, j] = rng.choice(p.edges, size=int(on_edge.sum()))
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.01] = np.inf
    x[rng.random(x.shape) < 0.01] = -np.inf
    x[rng.random(x.shape) < 0.02] = 1e9
    return x


@pytest.mark.parametrize("continuous", [0, 80])
@pytest.mark.parametrize("rows", [1, 5, 64, 255, 700])
def test_counting_many_columns_at_once_equals_counting_each(continuous: int,
                                                            rows: int) -> None:
    """Both bucket lookups of the block (a table when it fits, binary searches when the
    columns have too many distinct edges), below and above the row count where counting
    goes column by column: counts, missing and out-of-range equal count_numeric's."""
    rng = np.random.default_rng(continuous + rows)
    profiles = _wide_profiles(rng, continuous)
    names = list(profiles)
    x = _served(rng, profiles, rows)
    by_matrix, by_mapping = DriftCounts(profiles), DriftCounts(profiles)
    by_matrix.update_matrix(x, names)
    by_mapping.update({n: x[:, j] for j, n in enumerate(names)})
    assert (by_matrix.layout.search[3] is None) == (continuous > 0)
    for counted in (by_matrix.columns, by_mapping.columns):
        assert list(counted) == names
        for j, name in enumerate(names):
            expected = count_numeric(profiles[name], x[:, j])
            assert counted[name].counts.tolist() == expected.counts.tolist(), name
            assert (counted[name].missing, counted[name].out_of_range) == \
                (expected.missing, expected.out_of_range), name
    assert sum(c.missing for c in by_matrix.columns.values()) > 0
    assert sum(c.out_of_range for c in by_matrix.columns.values()) > 0


def test_a_matrix_counts_its_named_columns_in_any_order(profile: ReferenceProfile) -> None:
    """Columns named in another order, unprofiled ones and categorical ones in an object
    matrix: the same drift as the frame's."""
    current = _frame(np.random.default_rng(10), 300, shift=0.5)
    current.loc[:19, "x2"] = np.nan
    names = ["colour", "extra", *reversed([c for c in current.columns if c != "colour"])]
    current["extra"] = "ignored"
    counts = DriftCounts(profile.features)
    counts.update_matrix(current[names].to_numpy(dtype=object), names)
    assert counts.compare() == compute_drift(profile.features, current)
    assert list(counts.columns) == list(profile.features)
    with pytest.raises(ValueError, match="3 columns"):
        counts.update_matrix(np.zeros((2, 2)), ["x0", "x1", "x2"])


def test_counts_of_the_same_profiles_read_back_from_json_merge(
        profile: ReferenceProfile) -> None:
    current = _frame(np.random.default_rng(11), 400)
    back = ReferenceProfile.from_dict(profile.to_dict())
    first, second = DriftCounts(profile.features), DriftCounts(back.features)
    first.update({c: current[c].iloc[:150] for c in current.columns})
    second.update({c: current[c].iloc[150:] for c in current.columns})
    first.merge(second)
    assert first.compare() == compute_drift(profile.features, current)
