"""A classifier for crash tests whose loading takes a while inside a server: unpickling it
where ``MODELYARD_TEST_SLOW_LOAD`` is set writes a marker file (loading has begun) and then
sleeps, so a test can kill the server in the middle of a hot swap. Pickled by the tests and
loaded by a ``modelyard serve`` child process (this folder is on its path)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class SlowToLoad(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression that takes ``load_s`` to load where the variable is set."""

    def __init__(self, *, marker: str = "", load_s: float = 0.0) -> None:
        self.marker = marker
        self.load_s = load_s

    def fit(self, X: Any, y: Any) -> SlowToLoad:
        self.model_ = LogisticRegression(max_iter=5000).fit(np.asarray(X), y)
        self.classes_ = self.model_.classes_
        return self

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if os.environ.get("MODELYARD_TEST_SLOW_LOAD") and self.marker:
            with open(self.marker, "a") as fh:
                fh.write(f"{os.getpid()}\n")  # loading began in this process
            time.sleep(self.load_s)

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict(np.asarray(X, dtype=float)))

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict_proba(np.asarray(X, dtype=float)))


def loads_begun(marker: str | Path) -> list[int]:
    """The pids that began loading the model, in order."""
    path = Path(marker)
    return [int(x) for x in path.read_text().split()] if path.exists() else []
