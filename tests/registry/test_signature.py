"""Signatures: inference from an example and the model, and their JSON form."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from modelyard.errors import InvalidInput
from modelyard.registry import ColumnSpec, OutputSpec, Signature, infer_signature


def test_logical_types_nullability_and_categories_are_inferred() -> None:
    frame = pd.DataFrame({
        "i": [1, 2, 3],
        "f": [1.0, np.nan, 2.5],
        "b": [True, False, True],
        "s": ["a", "b", None],
        "c": pd.Categorical(["x", "y", "x"]),
        "d": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        "ni": pd.array([1, None, 3], dtype="Int64"),
        "ob": pd.Series([True, False, True], dtype=object),
    })
    inputs = {c.name: c for c in infer_signature(frame).inputs or ()}
    assert {n: c.type for n, c in inputs.items()} == {
        "i": "integer", "f": "float", "b": "boolean", "s": "string", "c": "categorical",
        "d": "datetime", "ni": "integer", "ob": "boolean"}
    assert {n for n, c in inputs.items() if c.nullable} == {"f", "s", "ni"}
    assert inputs["c"].categories == ("x", "y")
    assert inputs["i"].dtype == "int64"


def test_outputs_describe_a_classifier(mixed: tuple[pd.DataFrame, Any],
                                      mixed_pipeline: Pipeline) -> None:
    frame, _ = mixed
    sig = infer_signature(frame, mixed_pipeline)
    assert sig.outputs == OutputSpec(task="classification", prediction_type="integer",
                                     classes=(0, 1), predict_proba=True)


def test_outputs_describe_string_labels_regressors_and_clusterers() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5, "b": [1.0, 0.0, 1.0, 0.0] * 5})
    labels = np.array(["no", "yes", "no", "yes"] * 5)
    clf = HistGradientBoostingClassifier(max_iter=3).fit(X, labels)
    out = infer_signature(X, clf).outputs
    assert (out.prediction_type, out.classes) == ("string", ("no", "yes"))
    reg = infer_signature(X, Ridge().fit(X, X["a"] * 2)).outputs
    assert (reg.task, reg.prediction_type, reg.predict_proba) == ("regression", "float", False)
    km = infer_signature(X, KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)).outputs
    assert (km.task, km.prediction_type) == ("clustering", "integer")


def test_records_and_arrays_are_examples_too(ridge: Ridge,
                                             diabetes: tuple[pd.DataFrame, Any]) -> None:
    X, _ = diabetes
    assert infer_signature({"a": 1.5, "b": "x"}).columns == ["a", "b"]
    assert infer_signature([{"a": 1}, {"a": 2}]).inputs == (ColumnSpec("a", "integer",
                                                                       dtype="int64"),)
    named = infer_signature(X.to_numpy()[:5], ridge)
    assert named.columns == list(X.columns)
    assert infer_signature(np.zeros((2, 3))).columns == ["f0", "f1", "f2"]
    with pytest.raises(InvalidInput, match="2-D"):
        infer_signature(np.zeros(3))


def test_the_json_form_round_trips() -> None:
    sig = Signature(
        inputs=(ColumnSpec("a", "float", nullable=True),
                ColumnSpec("c", "categorical", categories=("x", "y"), dtype="category")),
        outputs=OutputSpec(task="classification", prediction_type="string",
                           classes=("no", "yes"), predict_proba=True),
    )
    assert Signature.from_dict(sig.to_dict()) == sig
    assert Signature.from_dict({}) == Signature()
    assert "inputs" not in Signature().to_dict()


def test_bad_signatures_are_refused() -> None:
    with pytest.raises(InvalidInput, match="type 'text'"):
        ColumnSpec("a", "text")
    with pytest.raises(InvalidInput, match="duplicate columns: a"):
        Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("a", "float")))
    with pytest.raises(InvalidInput, match="not a signature"):
        Signature.from_dict({"inputs": [{"type": "float"}]})
