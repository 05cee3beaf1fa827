"""Model formats: skops by default, pickle on request, ONNX where its libraries exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import modelyard
from modelyard.errors import InvalidInput
from modelyard.registry import Signature, infer_signature
from modelyard.registry._formats import FORMATS, SkopsFormat, get_format


def test_skops_trusts_exactly_the_recorded_types(
    tmp_path: Path, cancer: tuple[pd.DataFrame, Any], hgb: HistGradientBoostingClassifier
) -> None:
    X, _ = cancer
    fmt = SkopsFormat()
    info = fmt.save(hgb, tmp_path / "m.skops", Signature())
    assert info["skops_trusted"] == [
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    loaded = fmt.load(tmp_path / "m.skops", info)
    np.testing.assert_array_equal(loaded.predict(X), hgb.predict(X))
    with pytest.raises(Exception, match=r"[Uu]ntrusted"):
        fmt.load(tmp_path / "m.skops", {"skops_trusted": []})


def test_unknown_formats_are_named(tmp_path: Path) -> None:
    assert set(FORMATS) == {"skops", "pickle", "onnx"}
    with pytest.raises(InvalidInput, match="use one of: skops, pickle, onnx"):
        get_format("joblib")


def test_objects_nothing_can_store_are_clear_errors(yard: modelyard.Yard) -> None:
    odd = FunctionTransformer(lambda x: x)
    with pytest.raises(InvalidInput, match="skops cannot store a FunctionTransformer"):
        yard.models.register("odd", odd)
    with pytest.raises(InvalidInput, match="cannot be pickled"):
        yard.models.register("odd", odd, format="pickle")


def test_onnx_round_trips_where_installed(
    yard: modelyard.Yard, cancer: tuple[pd.DataFrame, Any], logreg: Pipeline,
    diabetes: tuple[pd.DataFrame, Any], ridge: Ridge,
) -> None:
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    X, _ = cancer
    version = yard.models.register("cancer", logreg, input_example=X, format="onnx")
    predictor = yard.models.load(version.ref)
    np.testing.assert_array_equal(predictor.predict(X), logreg.predict(X))
    np.testing.assert_allclose(predictor.predict_proba(X), logreg.predict_proba(X), atol=1e-4)
    D, _ = diabetes
    yard.models.register("sugar", ridge, input_example=D, format="onnx")
    np.testing.assert_allclose(yard.models.load("sugar").predict(D), ridge.predict(D),
                               rtol=1e-4, atol=1e-3)


def test_hist_gradient_boosting_converts_to_onnx_and_predicts_as_scikit_learn(
    yard: modelyard.Yard, cancer: tuple[pd.DataFrame, Any],
    diabetes: tuple[pd.DataFrame, Any],
) -> None:
    """skl2onnx 1.20 fails on every HistGradientBoosting model with the onnx package of the
    lock (a boolean among integers); the registry converts them all the same."""
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = cancer
    hgb = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    version = yard.models.register("cancer", hgb, input_example=X, format="onnx")
    assert version.format == "onnx"
    predictor = yard.models.load(version.ref)
    np.testing.assert_array_equal(predictor.predict(X), hgb.predict(X))
    np.testing.assert_allclose(predictor.predict_proba(X), hgb.predict_proba(X), atol=1e-5)
    D, t = diabetes
    reg = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(D, t)
    yard.models.register("sugar", reg, input_example=D, format="onnx")
    np.testing.assert_allclose(yard.models.load("sugar").predict(D), reg.predict(D),
                               rtol=1e-4, atol=1e-3)


def test_onnx_needs_numeric_inputs(mixed: tuple[pd.DataFrame, Any],
                                   mixed_pipeline: Pipeline, tmp_path: Path) -> None:
    frame, _ = mixed
    with pytest.raises(InvalidInput, match="onnx"):
        get_format("onnx").save(mixed_pipeline, tmp_path / "m.onnx",
                                infer_signature(frame, mixed_pipeline))
