"""A classifier for multi-worker tests that fails in exactly one worker process: the first
worker to predict with it claims a marker file, and every prediction there raises. Pickled
by the tests and loaded by the workers of a ``modelyard serve`` (this folder is on their path).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

_CLAIMED: dict[str, bool] = {}  # marker path -> whether this process claimed it


def _fails_here(marker: str) -> bool:
    if "MODELYARD_SERVE_WORKER" not in os.environ:  # not a server worker (registration)
        return False
    if marker not in _CLAIMED:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            _CLAIMED[marker] = False
        else:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            _CLAIMED[marker] = True
    return _CLAIMED[marker]


class OneWorkerFails(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression that raises on every call in the one worker owning ``marker``."""

    def __init__(self, *, marker: str = "") -> None:
        self.marker = marker

    def fit(self, X: Any, y: Any) -> OneWorkerFails:
        self.model_ = LogisticRegression(max_iter=5000).fit(np.asarray(X), y)
        self.classes_ = self.model_.classes_
        return self

    def _check(self, X: Any) -> np.ndarray[Any, Any]:
        if _fails_here(self.marker):  # a ValueError: the warm-up on load only warns
            raise ValueError(f"this worker (pid {os.getpid()}) is broken")
        return np.asarray(X, dtype=float)

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict(self._check(X)))

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict_proba(self._check(X)))
