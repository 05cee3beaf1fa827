"""The gate's p-values against SciPy's: McNemar's exact test is a one-sided binomial test on
the discordant pairs (``scipy.stats.binomtest``), and the paired bootstrap agrees with the
bootstrap distribution ``scipy.stats.bootstrap`` draws for the same mean difference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from modelyard.loop import bootstrap_pvalue, mcnemar_pvalue


def _pairs(both: int, only_champion: int, only_challenger: int,
           neither: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Right/wrong per row for a known 2x2 table, rows shuffled."""
    champion = [True] * both + [True] * only_champion + [False] * only_challenger \
        + [False] * neither
    challenger = [True] * both + [False] * only_champion + [True] * only_challenger \
        + [False] * neither
    order = np.random.default_rng(0).permutation(len(champion))
    return np.asarray(champion)[order], np.asarray(challenger)[order]


@pytest.mark.parametrize(("both", "b", "c", "neither"), [
    (50, 5, 15, 30),      # the challenger wins 15 of 20 discordant rows
    (80, 10, 10, 0),      # a tie: nothing to see
    (0, 0, 8, 0),         # every discordant row is the challenger's
    (40, 3, 0, 7),        # no win at all
    (500, 100, 130, 270),  # large counts
    (1, 1, 2, 1),
])
def test_mcnemar_is_scipys_exact_one_sided_binomial_test(both: int, b: int, c: int,
                                                         neither: int) -> None:
    champion, challenger = _pairs(both, b, c, neither)
    expected = stats.binomtest(c, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
    assert mcnemar_pvalue(champion, challenger) == pytest.approx(expected, rel=1e-9,
                                                                 abs=1e-15)


def test_mcnemar_reference_values() -> None:
    # 15 wins of 20 discordant rows: P(X >= 15 | n=20, p=1/2) = 21700 / 2**20
    assert mcnemar_pvalue(*_pairs(50, 5, 15, 30)) == pytest.approx(21700 / 2**20, rel=1e-12)
    # 8 of 8: 1 / 2**8
    assert mcnemar_pvalue(*_pairs(0, 0, 8, 0)) == pytest.approx(1 / 256, rel=1e-12)
    # the rows where both are right or both wrong do not count
    assert mcnemar_pvalue(*_pairs(0, 5, 15, 0)) == mcnemar_pvalue(*_pairs(900, 5, 15, 900))


def _means(values: np.ndarray[Any, Any]) -> Any:
    return lambda idx: float(values[idx].mean())


def test_bootstrap_agrees_with_scipys_bootstrap_distribution() -> None:
    rng = np.random.default_rng(7)
    n = 400
    champion = rng.normal(0.70, 0.10, n)
    challenger = champion + rng.normal(0.01, 0.08, n)  # a small, noisy advantage
    margin = 0.0
    ours = bootstrap_pvalue(_means(champion), _means(challenger), n, higher_is_better=True,
                            margin=margin, samples=4000, seed=1)
    diff = challenger - champion
    reference = stats.bootstrap((diff,), np.mean, n_resamples=4000, method="percentile",
                                vectorized=True, random_state=np.random.default_rng(2))
    expected = float(np.mean(reference.bootstrap_distribution <= margin))
    assert 0.01 < expected < 0.5  # a case where the answer is neither 0 nor 1
    assert ours == pytest.approx(expected, abs=0.02)
    # and both agree with the normal approximation of the mean difference
    normal = stats.norm.cdf((margin - diff.mean()) / (diff.std(ddof=0) / np.sqrt(n)))
    assert ours == pytest.approx(normal, abs=0.03)


def test_bootstrap_with_a_margin_and_for_lower_is_better_metrics() -> None:
    rng = np.random.default_rng(3)
    n = 300
    loss_old = rng.gamma(2.0, 0.2, n)
    loss_new = loss_old - 0.05 + rng.normal(0, 0.1, n)  # lower loss: better
    diff = loss_old - loss_new  # the advantage, in the direction that is better
    for margin in (0.0, 0.04, 0.1):
        ours = bootstrap_pvalue(_means(loss_old), _means(loss_new), n, higher_is_better=False,
                                margin=margin, samples=3000, seed=0)
        normal = stats.norm.cdf((margin - diff.mean()) / (diff.std(ddof=0) / np.sqrt(n)))
        assert ours == pytest.approx(normal, abs=0.03), margin


def test_bootstrap_extremes_are_exact() -> None:
    base = np.linspace(0.0, 1.0, 200)
    # better on every row by 0.1: no resample says otherwise, p is the smallest possible
    assert bootstrap_pvalue(_means(base), _means(base + 0.1), 200, higher_is_better=True,
                            margin=0.0, samples=999) == pytest.approx(1 / 1000)
    # identical models: never better by more than 0, so p is 1
    assert bootstrap_pvalue(_means(base), _means(base), 200, higher_is_better=True,
                            margin=0.0, samples=999) == 1.0
    # better by 0.1 on every row, but the margin asks for more than 0.2
    assert bootstrap_pvalue(_means(base), _means(base + 0.1), 200, higher_is_better=True,
                            margin=0.2, samples=999) == 1.0
    # lower is better: a challenger 0.1 lower everywhere has the smallest p
    assert bootstrap_pvalue(_means(base + 0.1), _means(base), 200, higher_is_better=False,
                            margin=0.0, samples=999) == pytest.approx(1 / 1000)
