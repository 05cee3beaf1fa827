"""Autologging for scikit-learn."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from modelyard.tracking import autolog
from modelyard.tracking._autolog import autolog_enabled


@pytest.fixture
def autologging() -> Iterator[None]:
    original = LogisticRegression.fit
    autolog()
    yield
    autolog(disable=True)
    assert LogisticRegression.fit is original


def test_a_classifier_fit_logs_params_time_and_training_metrics(
    yard: modelyard.Yard, autologging: None
) -> None:
    X, y = make_classification(n_samples=200, random_state=0)
    with yard.run() as run:
        model = LogisticRegression(C=0.5).fit(X, y)
    assert hasattr(model, "coef_")
    got = yard.runs.get(run.id)
    assert got.params["C"] == "0.5" and got.params["max_iter"] == "100"
    for key in ("fit_time_s", "training_accuracy", "training_precision", "training_recall",
                "training_f1", "training_log_loss", "training_roc_auc"):
        assert key in got.metrics, key
    assert 0.5 < got.metrics["training_accuracy"] <= 1.0


def test_a_multiclass_fit_logs_roc_auc(yard: modelyard.Yard, autologging: None) -> None:
    X, y = make_classification(n_samples=300, n_classes=3, n_informative=4, random_state=0)
    with yard.run() as run:
        LogisticRegression(max_iter=500).fit(X, y)
    assert "training_roc_auc" in yard.runs.get(run.id).metrics


def test_a_regressor_fit_logs_regression_metrics(yard: modelyard.Yard, autologging: None) -> None:
    X, y = make_regression(n_samples=100, n_features=3, random_state=0)
    with yard.run() as run:
        LinearRegression().fit(X, y)
    metrics = yard.runs.get(run.id).metrics
    assert metrics["training_r2"] > 0.99
    assert {"training_mae", "training_rmse", "fit_time_s"} <= set(metrics)


def test_only_the_outermost_fit_logs(yard: modelyard.Yard, autologging: None) -> None:
    X, y = make_classification(n_samples=120, random_state=0)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    with yard.run() as run:
        GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=3).fit(X, y)
    got = yard.runs.get(run.id)
    assert got.params["param_grid.logisticregression__C"] == "[0.1, 1.0]"
    assert "C" not in got.params
    assert len(yard.runs.metric_history(run.id, "fit_time_s")) == 1


def test_fitting_twice_keeps_the_first_params_and_adds_steps(
    yard: modelyard.Yard, autologging: None
) -> None:
    X, y = make_classification(n_samples=100, random_state=0)
    with yard.run() as run:
        LogisticRegression(C=1.0).fit(X, y)
        LogisticRegression(C=2.0).fit(X, y)
    assert yard.runs.get(run.id).params["C"] == "1.0"
    assert [m.step for m in yard.runs.metric_history(run.id, "fit_time_s")] == [0, 1]


def test_without_an_active_run_nothing_is_logged(yard: modelyard.Yard, autologging: None) -> None:
    X, y = make_classification(n_samples=50, random_state=0)
    run = yard.run()  # started but not entered: not active
    LogisticRegression().fit(X, y)
    run.end()
    assert yard.runs.get(run.id).params == {}


def test_disable_restores_fit(yard: modelyard.Yard) -> None:
    autolog()
    autolog()
    assert autolog_enabled()
    autolog(disable=True)
    assert not autolog_enabled()
    assert not hasattr(LogisticRegression.fit, "__modelyard_autolog__")
    X, y = np.zeros((4, 1)), np.array([0, 1, 0, 1])
    with yard.run() as run:
        LogisticRegression().fit(X, y)
    assert yard.runs.get(run.id).metrics == {}
