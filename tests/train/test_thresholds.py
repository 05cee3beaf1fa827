"""Imbalance metrics (recall at a false-positive rate, cost), decision thresholds chosen on
validation data and stored with the version, and estimators nested in spec parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.errors import InvalidInput
from modelyard.registry import Lineage
from modelyard.train import evaluate
from modelyard.train._estimator import build_estimator
from modelyard.train._metrics import expected_cost, lower_is_better, recall_at_fpr
from modelyard.train._spec import spec_from_dict


def test_recall_at_fpr_and_cost_by_hand() -> None:
    y = np.array([0, 0, 0, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.3, 0.8, 0.7, 0.9])
    assert recall_at_fpr(y, score, 0.0) == 0.5     # only 0.9 is above every negative
    assert recall_at_fpr(y, score, 0.25) == 1.0    # one false positive of four allowed
    pred = np.array([0, 0, 0, 1, 0, 1])            # one false positive, one false negative
    assert expected_cost(y, pred, 10.0) == pytest.approx(11 / 6)
    assert lower_is_better("cost@10") and not lower_is_better("recall_at_fpr@0.05")
    values, _ = evaluate("classification", y, pred, np.c_[1 - score, score], [0, 1],
                         ("recall_at_fpr@0.25", "cost@10", "cost"))
    assert values == {"recall_at_fpr@0.25": 1.0, "cost@10": pytest.approx(11 / 6),
                      "cost": pytest.approx(11 / 6)}


@pytest.mark.parametrize("name", ["cost@x", "recall_at_fpr@1.5", "recall_at_k"])
def test_bad_metric_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        evaluate("classification", [0, 1], [0, 1], None, [0, 1], (name,))


def test_the_threshold_is_chosen_stored_and_applied(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 3))
    y = (x[:, 0] + rng.normal(scale=1.5, size=1200) > 2.2).astype(int)  # about 10 % positive
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)
    with modelyard.open(tmp_path) as yard:
        yard.datasets.ingest(frame, name="imb")
        result = yard.train({
            "model": "imb", "dataset": "imb@latest", "target": "y",
            "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
            "evaluation": {"threshold": "cost@10", "metrics": ["roc_auc", "cost@10"]},
        })
        version = yard.models.get("imb/versions/1")
        stored = Lineage.of(version).threshold
        assert stored["chosen_for"] == "cost@10"
        assert stored["value"] == result.metrics["threshold"] < 0.5
        predictor = yard.models.load("imb/versions/1")
        inputs = frame.drop(columns=["y"])
        proba = predictor.predict_proba(inputs)[:, 1]
        assert ((proba >= stored["value"]) == (predictor.predict(inputs) == 1)).all()
        assert Lineage.of(version).higher_is_better is True  # primary: roc_auc


def test_a_threshold_needs_a_binary_target(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(90.0), "y": np.arange(90) % 3})
    with modelyard.open(tmp_path) as yard:
        yard.datasets.ingest(frame, name="three")
        with pytest.raises(InvalidInput, match="needs a binary target"):
            yard.train({"model": "three", "dataset": "three@latest", "target": "y",
                        "estimator": "sklearn.linear_model.LogisticRegression",
                        "evaluation": {"threshold": "f1"}})


def test_estimators_nest_in_parameters() -> None:
    spec = spec_from_dict({"model": "m", "dataset": "d", "target": "t", "pipeline": [
        {"class": "sklearn.compose.ColumnTransformer", "params": {"transformers": [
            ["words", {"class": "sklearn.feature_extraction.text.TfidfVectorizer",
                       "params": {"ngram_range": [1, 2]}}, "text"]]}},
        {"class": "sklearn.linear_model.LogisticRegression"}]})
    model = build_estimator(spec.estimator)
    texts = pd.DataFrame({"text": ["good film", "bad film", "great good", "awful bad"]})
    model.fit(texts, [1, 0, 1, 0])
    assert model.predict(pd.DataFrame({"text": ["good"]})).tolist() == [1]
    name, vectorizer, column = model.steps[0][1].transformers[0]
    assert (name, column, vectorizer.ngram_range) == ("words", "text", (1, 2))
