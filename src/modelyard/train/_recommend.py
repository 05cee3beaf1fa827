"""Top-k recommenders with scikit-learn's contract, and the ranking metrics that judge them.

A recommender is fitted on interactions, a 2-D array of ``(user_id, item_id)`` rows (with
optional weights, e.g. ratings), and its ``predict`` takes user ids and returns, for each, the
``k`` item ids it recommends, best first, as one row of an ``(n_users, k)`` integer array.
Items the user has already interacted with are never recommended; a user it has not seen gets
the most popular items. Learned state is plain NumPy arrays, so skops stores it safely (the
class is trusted at registration). The signature of a registered recommender says
``user_id: integer`` in and ``prediction_type="list"`` out, and the server answers with one
list of item ids per user.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import InvalidInput

__all__ = [
    "ImplicitALSRecommender",
    "PopularityRecommender",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
]

_Array = np.ndarray[Any, Any]
_SCORES_PER_SLICE = 2_000_000  # scores per slice of predict: ~16 MB, ~50 MB with its sorts


def _interactions(X: Any) -> tuple[_Array, _Array]:
    array = np.asarray(X)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise InvalidInput(f"interactions must be a non-empty (n, 2) array of (user_id, "
                           f"item_id) rows; got shape {array.shape}")
    return array[:, 0].astype(np.int64), array[:, 1].astype(np.int64)


def _user_ids(X: Any) -> _Array:
    array = np.asarray(X)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInput(f"predict takes user ids: a 1-D array or one column; got shape "
                           f"{array.shape}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise InvalidInput("user ids must be integers; got a missing or infinite value")
    return array.astype(np.int64)


class _TopK(BaseEstimator):  # type: ignore[misc]
    """What every recommender shares: ids, seen items, popularity, masking and top-k."""

    _estimator_type = "ranker"
    k: int

    def _fit_index(self, X: Any, sample_weight: Any) -> tuple[_Array, _Array, _Array]:
        users, items = _interactions(X)
        weights = (np.ones(len(users)) if sample_weight is None
                   else np.asarray(sample_weight, dtype=np.float64))
        if weights.shape != users.shape:
            raise InvalidInput(f"sample_weight has {weights.size} values for {len(users)} "
                               "interactions")
        if not (isinstance(self.k, int) and self.k > 0):
            raise InvalidInput(f"k must be a positive integer, not {self.k!r}")
        self.users_, u = np.unique(users, return_inverse=True)
        self.items_, i = np.unique(items, return_inverse=True)
        order = np.lexsort((i, u))
        u, i, weights = u[order], i[order], weights[order]
        self.seen_indptr_ = np.searchsorted(u, np.arange(len(self.users_) + 1)).astype(np.int64)
        self.seen_indices_ = i.astype(np.int64)
        counts = np.bincount(i, minlength=len(self.items_)).astype(np.float64)
        self.popularity_ = counts / counts.max()
        return u, i, weights

    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise InvalidInput(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _scores(self, rows: _Array) -> _Array:
        """Scores of every item for the known users at ``rows`` (indices into ``users_``)."""
        raise NotImplementedError

    def predict(self, X: Any) -> _Array:
        """The ``k`` recommended item ids of each user, best first.

        Args:
            X: user ids, a 1-D array or a one-column 2-D array.

        Returns:
            An ``(n_users, k)`` int64 array; fewer than ``k`` items exist only when the
            catalogue is smaller, and then the row is padded with ``-1``.
        """
        self._check_fitted()
        ids = _user_ids(X)
        # One score row per user and item: in slices, so that predicting for many users
        # (a monitor's reference over the training data) holds tens of MB, not n_users rows.
        step = max(1, _SCORES_PER_SLICE // max(len(self.items_), 1))
        if len(ids) > step:
            return np.vstack([self._top_k(ids[at:at + step])
                              for at in range(0, len(ids), step)])
        return self._top_k(ids)

    def _top_k(self, ids: _Array) -> _Array:
        pos = np.searchsorted(self.users_, ids).clip(0, max(len(self.users_) - 1, 0))
        known = self.users_[pos] == ids
        n_items = len(self.items_)
        scores = np.broadcast_to(self.popularity_, (len(ids), n_items)).copy()
        if known.any():
            scores[known] = self._scores(pos[known])
        # Already-seen items of known users are never recommended.
        rows = pos[known]
        starts, ends = self.seen_indptr_[rows], self.seen_indptr_[rows + 1]
        lengths = ends - starts
        if lengths.sum():
            which = np.repeat(np.flatnonzero(known), lengths)
            offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            scores[which, self.seen_indices_[np.repeat(starts, lengths) + offsets]] = -np.inf
        k = min(self.k, n_items)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        out = self.items_[top]
        out[~np.isfinite(np.take_along_axis(scores, top, axis=1))] = -1
        if k < self.k:
            out = np.hstack([out, np.full((len(ids), self.k - k), -1, dtype=np.int64)])
        return out.astype(np.int64)


class PopularityRecommender(_TopK):
    """Recommends the items most users interacted with, minus those a user has seen.

    The baseline every recommender must beat.

    Args:
        k: how many items to recommend per user.

    Example:
        >>> rec = PopularityRecommender(k=2).fit([[1, 10], [2, 10], [2, 11], [3, 12]])
        >>> rec.predict([1, 99]).tolist()
        [[11, 12], [10, 11]]
    """

    def __init__(self, *, k: int = 10) -> None:
        self.k = k

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> PopularityRecommender:
        """Count interactions per item.

        Args:
            X: ``(user_id, item_id)`` rows.
            y: ignored.
            sample_weight: ignored by counting, accepted for a shared interface.

        Returns:
            self.
        """
        self._fit_index(X, sample_weight)
        return self

    def _scores(self, rows: _Array) -> _Array:
        return np.broadcast_to(self.popularity_, (len(rows), len(self.items_))).copy()


class ImplicitALSRecommender(_TopK):
    """Matrix factorisation for implicit feedback, fitted by alternating least squares.

    Hu, Koren and Volinsky (2008): each interaction is a preference of confidence
    ``1 + alpha * weight``; user and item factors minimise the confidence-weighted squared
    error against 1 for seen and 0 for unseen pairs, plus an L2 penalty. Each half-step is an
    exact solve per user (or item), in NumPy.

    Args:
        k: how many items to recommend per user.
        factors: the latent dimension.
        regularization: the L2 penalty.
        alpha: confidence per unit of weight.
        iterations: ALS sweeps.
        random_state: seed of the initial factors.

    Example:
        >>> X = [[u, i] for u in range(6) for i in range(4) if (u + i) % 2 == 0]
        >>> ImplicitALSRecommender(k=1, factors=2).fit(X).predict([0]).shape
        (1, 1)
    """

    def __init__(self, *, k: int = 10, factors: int = 32, regularization: float = 0.1,
                 alpha: float = 10.0, iterations: int = 12, random_state: int = 0) -> None:
        self.k = k
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> ImplicitALSRecommender:
        """Learn user and item factors from interactions.

        Args:
            X: ``(user_id, item_id)`` rows.
            y: ignored.
            sample_weight: the strength of each interaction (e.g. its rating); 1 by default.

        Returns:
            self.
        """
        u, i, w = self._fit_index(X, sample_weight)
        rng = np.random.default_rng(self.random_state)
        n_users, n_items = len(self.users_), len(self.items_)
        scale = 1.0 / np.sqrt(self.factors)
        users = rng.normal(0.0, scale, (n_users, self.factors))
        items = rng.normal(0.0, scale, (n_items, self.factors))
        confidence = self.alpha * w
        by_user = (u, i, confidence, self.seen_indptr_)
        order = np.lexsort((u, i))
        by_item = (i[order], u[order], confidence[order],
                   np.searchsorted(i[order], np.arange(n_items + 1)))
        for _ in range(self.iterations):
            users = self._solve(items, by_user, n_users)
            items = self._solve(users, by_item, n_items)
        self.user_factors_ = users
        self.item_factors_ = items
        return self

    def _solve(self, fixed: _Array, index: tuple[_Array, _Array, _Array, _Array],
               n: int) -> _Array:
        _, other, conf, indptr = index
        gram = fixed.T @ fixed + self.regularization * np.eye(self.factors)
        out = np.zeros((n, self.factors))
        for row in range(n):
            start, end = indptr[row], indptr[row + 1]
            if start == end:
                continue
            f = fixed[other[start:end]]
            c = conf[start:end]
            a = gram + (f.T * c) @ f
            b = f.T @ (1.0 + c)
            out[row] = np.linalg.solve(a, b)
        return out

    def _scores(self, rows: _Array) -> _Array:
        return np.asarray(self.user_factors_[rows] @ self.item_factors_.T)


# -- ranking metrics --------------------------------------------------------------------


def _check_k(recommended: _Array, k: int) -> _Array:
    if not (isinstance(k, int) and k > 0):
        raise InvalidInput(f"k must be a positive integer, not {k!r}")
    return np.asarray(recommended)[:, :k]


def _hits(recommended: Any, relevant: list[set[int]], k: int) -> _Array:
    top = _check_k(np.asarray(recommended), k)
    if len(top) != len(relevant):
        raise InvalidInput(f"{len(top)} recommendation rows for {len(relevant)} users")
    return np.array([[item in rel for item in row] for row, rel in
                     zip(top.tolist(), relevant, strict=True)], dtype=bool).reshape(len(top), -1)


def precision_at_k(recommended: Any, relevant: list[set[int]], k: int) -> float:
    """Mean share of each user's top ``k`` that is relevant.

    Example:
        >>> precision_at_k([[1, 2]], [{2}], 2)
        0.5
    """
    return float(_hits(recommended, relevant, k).sum(axis=1).mean() / k)


def recall_at_k(recommended: Any, relevant: list[set[int]], k: int) -> float:
    """Mean share of each user's relevant items found in their top ``k``.

    Example:
        >>> recall_at_k([[1, 2]], [{2, 3}], 2)
        0.5
    """
    hits = _hits(recommended, relevant, k).sum(axis=1)
    sizes = np.array([max(len(r), 1) for r in relevant])
    return float(np.mean(hits / sizes))


def ndcg_at_k(recommended: Any, relevant: list[set[int]], k: int) -> float:
    """Mean normalised discounted cumulative gain of each user's top ``k`` (binary gains).

    Example:
        >>> round(ndcg_at_k([[1, 2]], [{2}], 2), 4)
        0.6309
    """
    hits = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discounts
    ideal = np.array([discounts[: min(len(r), hits.shape[1])].sum() for r in relevant])
    return float(np.mean(np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1), 0.0)))


def ranking_metrics(recommended: Any, relevant: list[set[int]], k: int) -> dict[str, float]:
    """``precision@k``, ``recall@k`` and ``ndcg@k`` in one dict.

    Args:
        recommended: one row of item ids per user, best first.
        relevant: the items each user actually went on to like.
        k: the cut-off.

    Example:
        >>> ranking_metrics([[1, 2]], [{1}], 1)
        {'precision@1': 1.0, 'recall@1': 1.0, 'ndcg@1': 1.0}
    """
    return {f"precision@{k}": precision_at_k(recommended, relevant, k),
            f"recall@{k}": recall_at_k(recommended, relevant, k),
            f"ndcg@{k}": ndcg_at_k(recommended, relevant, k)}
