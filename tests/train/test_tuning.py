"""Search spaces name the estimator's own parameters, as users write them, whatever wraps it:
the automatic preprocessing of text and category columns, or the user's own pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import modelyard
from modelyard.errors import InvalidInput
from modelyard.train._tune import resolve_names


def _mixed(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numbers, a category and a gap: the preprocessing wraps any estimator trained on it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"amount": rng.normal(size=n), "age": rng.normal(size=n),
                          "channel": rng.choice(["web", "shop", "phone"], size=n)})
    frame.loc[::17, "age"] = np.nan
    frame["fraud"] = ((frame["amount"] + (frame["channel"] == "web")) > 0.8).astype(int)
    return frame


def test_a_space_in_the_estimators_own_names_tunes_it_inside_the_preprocessing(
        yard: modelyard.Yard) -> None:
    yard.datasets.ingest(_mixed(), name="tx")
    result = yard.train({
        "model": "fraud", "dataset": "tx@latest", "target": "fraud",
        "estimator": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                      "params": {"max_iter": 30}},
        "tune": {"trials": 3, "cv": 2, "params": {
            "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
            "max_leaf_nodes": {"low": 4, "high": 16}}},
    })
    assert set(result.best_params) == {"learning_rate", "max_leaf_nodes"}
    fitted = yard.models.load(result.ref).model
    assert isinstance(fitted, Pipeline)  # the category column was encoded
    assert fitted.get_params()["model__learning_rate"] == result.best_params["learning_rate"]
    run = yard.runs.get(result.run_id)
    # the run shows what the registered model was fitted with, not the estimator's default
    assert float(run.params["param.learning_rate"]) == pytest.approx(
        result.best_params["learning_rate"])
    trials = yard.runs.list(parent_id=result.run_id, limit=10)
    assert len(trials) == 3 and all("learning_rate" in t.params for t in trials)


def test_the_default_space_tunes_through_the_preprocessing(yard: modelyard.Yard) -> None:
    yard.datasets.ingest(_mixed(), name="tx")
    result = yard.train({
        "model": "fraud", "dataset": "tx@latest", "target": "fraud",
        "estimator": {"class": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 300}},
        "tune": {"trials": 2, "cv": 2},
    })
    assert "C" in result.best_params


def test_a_user_pipeline_is_tuned_by_its_final_steps_names(yard: modelyard.Yard) -> None:
    frame = _mixed().drop(columns=["channel"]).fillna(0.0)
    yard.datasets.ingest(frame, name="num")
    result = yard.train({
        "model": "scaled", "dataset": "num@latest", "target": "fraud",
        "pipeline": ["sklearn.preprocessing.StandardScaler",
                     {"class": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 300}}],
        "tune": {"trials": 2, "cv": 2, "params": {"C": {"low": 0.01, "high": 10.0,
                                                        "log": True}}},
    })
    fitted = yard.models.load(result.ref).model
    assert pytest.approx(result.best_params["C"]) == fitted.steps[-1][1].C


def test_names_resolve_to_the_predicting_step_and_wrong_ones_are_named() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    inner = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    outer = Pipeline([("preprocess", StandardScaler()), ("model", inner)])
    assert resolve_names(outer, ["C", "model__clf__tol"]) == {
        "C": "model__clf__C", "model__clf__tol": "model__clf__tol"}
    with pytest.raises(InvalidInput, match=r"cannot tune learning_rate.*its parameters: C"):
        resolve_names(outer, ["learning_rate"])
    text = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())])
    assert resolve_names(text, ["max_iter"]) == {"max_iter": "clf__max_iter"}
