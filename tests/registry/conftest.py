"""Fitted scikit-learn models and their data, shared by the registry's tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@pytest.fixture(scope="session")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    """The breast cancer data as a frame (30 float columns) and its 0/1 target."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def hgb(cancer: tuple[pd.DataFrame, pd.Series]) -> HistGradientBoostingClassifier:
    X, y = cancer
    return HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)


@pytest.fixture(scope="session")
def logreg(cancer: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    X, y = cancer
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


@pytest.fixture(scope="session")
def mixed() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """A frame with float, integer, categorical, string and boolean columns, and labels."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "amount": rng.gamma(2.0, 50.0, n),
        "items": rng.integers(1, 10, n),
        "country": pd.Categorical(rng.choice(["DE", "FR", "US"], n)),
        "channel": rng.choice(["web", "app"], n).astype(object),
        "returning": rng.random(n) < 0.5,
    })
    label = ((frame["amount"] > 100) ^ (frame["country"] == "US")).to_numpy().astype(int)
    return frame, label


@pytest.fixture(scope="session")
def mixed_pipeline(mixed: tuple[pd.DataFrame, np.ndarray[Any, Any]]) -> Pipeline:
    frame, label = mixed
    pre = ColumnTransformer([
        ("num", StandardScaler(), ["amount", "items"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["country", "channel"]),
        ("flag", "passthrough", ["returning"]),
    ])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))]).fit(
        frame, label)


@pytest.fixture(scope="session")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def ridge(diabetes: tuple[pd.DataFrame, pd.Series]) -> Ridge:
    X, y = diabetes
    return Ridge(alpha=0.5).fit(X, y)
