"""Training end to end: data version in, tracked run and registered version out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import modelyard
from modelyard.errors import InvalidInput


def _cancer(yard: modelyard.Yard) -> str:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: str(c).replace(" ", "_"))
    return yard.datasets.ingest(frame, name="cancer").ref


def test_train_fits_evaluates_logs_and_registers_with_lineage(yard: modelyard.Yard) -> None:
    ref = _cancer(yard)
    result = yard.train({
        "model": "cancer", "dataset": ref, "target": "target",
        "pipeline": ["sklearn.preprocessing.StandardScaler",
                     {"class": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 500}}],
        "evaluation": {"cv": 3}, "aliases": ["champion"],
    })
    assert result.task == "classification"
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss",
                   "cv_roc_auc_mean", "fit_time_s"):
        assert metric in result.metrics, metric
    assert result.metrics["roc_auc"] > 0.95

    run = yard.runs.get(result.run_id)
    assert run.status == "finished"
    assert run.metrics["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    assert run.params["dataset"] == ref and [i.dataset_ref for i in run.inputs] == [ref]
    assert {a.path for a in run.artifacts} >= {"spec.json", "confusion_matrix.json"}

    version = yard.models.get("cancer@champion")
    assert version.version == 1 and version.run_id == result.run_id
    assert version.dataset_ref == ref
    assert [c["name"] for c in version.signature["inputs"]][:2] == ["mean_radius",
                                                                   "mean_texture"]
    assert result.run_id in yard.datasets.runs_using(ref)

    frame = yard.datasets.load(ref)
    predictor = yard.models.load("cancer@champion")
    predicted = predictor.predict(frame.drop(columns=["target"]))
    assert (predicted == frame["target"].to_numpy()).mean() > 0.95


def test_tuning_runs_each_trial_as_a_child_run_and_keeps_the_best(
        yard: modelyard.Yard) -> None:
    ref = _cancer(yard)
    result = yard.train({
        "model": "cancer", "dataset": ref, "target": "target",
        "estimator": {"class": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 3000}},
        "tune": {"params": {"C": {"low": 0.001, "high": 10.0, "log": True}}, "cv": 2},
    }, tune_trials=3)
    children = yard.runs.list(parent_id=result.run_id)
    assert len(children) == 3
    assert all("cv_score" in c.metrics and "C" in c.params for c in children)
    best_child = max(children, key=lambda c: c.metrics["cv_score"])
    assert float(best_child.params["C"]) == pytest.approx(result.best_params["C"])
    assert yard.runs.get(result.run_id).params["best.C"]


def test_regression_and_categorical_columns_are_handled(yard: modelyard.Yard) -> None:
    data = load_diabetes(as_frame=True).frame
    rng = np.random.default_rng(0)
    data["region"] = rng.choice(["north", "south", "east"], size=len(data))
    data.loc[::17, "bmi"] = np.nan
    ref = yard.datasets.ingest(data, name="diabetes").ref
    result = yard.train({
        "model": "diabetes", "dataset": ref, "target": "target",
        "estimator": "sklearn.linear_model.Ridge",
    })
    assert result.task == "regression"
    assert set(result.metrics) >= {"mae", "rmse", "r2"} and result.metrics["r2"] > 0.2
    predictor = yard.models.load("diabetes")
    out = predictor.predict(data.drop(columns=["target"]).head(3))
    assert out.shape == (3,)


def test_wrong_columns_are_clear_errors_and_leave_no_version(yard: modelyard.Yard) -> None:
    ref = _cancer(yard)
    base = {"model": "cancer", "dataset": ref,
            "estimator": "sklearn.linear_model.LogisticRegression"}
    with pytest.raises(InvalidInput, match="target column 'label' is not in dataset"):
        yard.train({**base, "target": "label"})
    with pytest.raises(InvalidInput, match="'nope' not in dataset"):
        yard.train({**base, "target": "target", "features": ["mean_radius", "nope"]})
    with pytest.raises(InvalidInput, match="no search space"):
        yard.train({**base, "target": "target",
                    "estimator": "sklearn.neighbors.KNeighborsClassifier"}, tune_trials=2)
    assert yard.models.list() == []


def test_single_class_target_is_refused(yard: modelyard.Yard) -> None:
    frame = pd.DataFrame({"x": np.arange(20.0), "y": [1] * 20})
    ref = yard.datasets.ingest(frame, name="flat").ref
    with pytest.raises(InvalidInput, match="single class"):
        yard.train({"model": "flat", "dataset": ref, "target": "y",
                    "estimator": "sklearn.linear_model.LogisticRegression"})
