"""The drift statistics, vectorised, from bucket counts of the reference and a window.

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
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["chi2_js", "compute_psi", "ks_from_cdfs"]

PSI_FLOOR = 1e-4


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


def chi2_js(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """``(chi2, p, js)`` of two count vectors over the same categories: Pearson's
    chi-squared test of the 2 x k table and the Jensen-Shannon distance (base 2)."""
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
