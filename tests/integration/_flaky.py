"""A classifier for rollout tests that fails on some rows or answers slowly; pickled by the
tests and loaded by a ``modelyard serve`` child process (this folder is on its path)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class FlakyClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression that raises when a row's first feature is above ``fail_above``
    and sleeps ``delay_s`` per call."""

    def __init__(self, *, fail_above: float = float("inf"), delay_s: float = 0.0) -> None:
        self.fail_above = fail_above
        self.delay_s = delay_s

    def fit(self, X: Any, y: Any) -> FlakyClassifier:
        self.model_ = LogisticRegression(max_iter=5000).fit(np.asarray(X), y)
        self.classes_ = self.model_.classes_
        return self

    def _check(self, X: Any) -> np.ndarray[Any, Any]:
        data = np.asarray(X, dtype=float)
        if self.delay_s:
            time.sleep(self.delay_s)
        if (data[:, 0] > self.fail_above).any():
            raise ValueError(f"a row above {self.fail_above}")
        return data

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict(self._check(X)))

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict_proba(self._check(X)))
