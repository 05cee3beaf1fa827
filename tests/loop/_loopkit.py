"""A yard with model 'fraud' trained by `yard.train` on dataset 'tx', for loop tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import modelyard

FEATURES = ["x0", "x1", "x2", "x3"]


def make_frame(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Rows whose label depends on x0 and x1; ``shift`` moves x2 (drift)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    frame["x2"] += shift
    logit = 2.0 * frame["x0"] - 1.5 * frame["x1"]
    frame["y"] = (logit + rng.normal(scale=0.5, size=n) > 0).astype(np.int64)
    return frame


def spec(estimator: str = "sklearn.linear_model.LogisticRegression",
         params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fast training spec for model 'fraud' on the newest 'tx'."""
    return {"model": "fraud", "dataset": "tx@latest", "target": "y",
            "estimator": {"class": estimator, "params": params or {}},
            "evaluation": {"test_size": 0.3, "primary_metric": "roc_auc"}}


def make_champion(yard: modelyard.Yard, *, estimator: str = "sklearn.dummy.DummyClassifier",
                  n: int = 600) -> int:
    """Ingest 'tx' v1 and train 'fraud' v1 (a weak model by default) as the champion."""
    yard.datasets.ingest(make_frame(n), name="tx")
    result = yard.train(spec(estimator), aliases=("champion",))
    return int(result.model_version.version)
