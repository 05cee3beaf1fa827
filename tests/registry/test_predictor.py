"""The predictor checks input against the signature before the model sees it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import modelyard
from modelyard.errors import InvalidInput, ValidationFailed
from modelyard.registry import Predictor, Signature
from modelyard.registry._inputs import prepare_input
from modelyard.registry._signature import ColumnSpec

Mixed = tuple[pd.DataFrame, Any]

SIG = Signature(inputs=(
    ColumnSpec("amount", "float"),
    ColumnSpec("items", "integer", dtype="int64"),
    ColumnSpec("country", "categorical", categories=("DE", "FR", "US")),
    ColumnSpec("channel", "string"),
    ColumnSpec("returning", "boolean"),
    ColumnSpec("seen", "datetime", nullable=True),
    ColumnSpec("score", "float", nullable=True),
))
GOOD = {"amount": 10.5, "items": 2, "country": "DE", "channel": "web", "returning": False,
        "seen": "2024-05-01T10:00:00", "score": None}


def _violations(data: Any) -> dict[str, dict[str, Any]]:
    with pytest.raises(ValidationFailed) as info:
        prepare_input(data, SIG, what="fraud/versions/1")
    assert "fraud/versions/1" in info.value.message
    return {v["column"]: v for v in info.value.violations}


def test_good_input_is_reordered_and_cast() -> None:
    reordered = dict(reversed(list(GOOD.items())))
    frame = prepare_input(reordered, SIG)
    assert list(frame.columns) == SIG.columns
    assert frame["amount"].dtype == np.float64
    assert frame["items"].dtype == np.int64
    assert isinstance(frame["country"].dtype, pd.CategoricalDtype)
    assert list(frame["country"].cat.categories) == ["DE", "FR", "US"]
    assert frame["returning"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(frame["seen"])
    assert np.isnan(frame["score"].iloc[0])


def test_ints_are_accepted_for_floats_and_whole_floats_for_ints() -> None:
    frame = prepare_input({**GOOD, "amount": 3, "items": 4.0}, SIG)
    assert frame["amount"].tolist() == [3.0] and frame["items"].tolist() == [4]


def test_missing_and_unknown_columns_are_all_named() -> None:
    data = {k: v for k, v in GOOD.items() if k not in {"amount", "channel"}}
    found = _violations({**data, "colour": "red"})
    assert {c: v["rule"] for c, v in found.items()} == {
        "amount": "missing_column", "channel": "missing_column", "colour": "unknown_column"}


def test_wrong_types_name_every_bad_column_with_examples() -> None:
    rows = [{**GOOD, "amount": "abc", "items": 2.5, "channel": 7, "returning": "yes"},
            {**GOOD, "amount": 1.0, "items": 3, "channel": "web", "returning": True}]
    with pytest.raises(ValidationFailed) as info:
        prepare_input(rows, SIG)
    message = info.value.message
    assert "column 'amount': expected float, got string values such as 'abc'" in message
    assert "column 'items': expected integer, got fractional values such as 2.5" in message
    assert "column 'channel': expected string, got integer values such as 7" in message
    assert "column 'returning': expected boolean, got string values such as 'yes'" in message
    by_column = {v["column"]: v for v in info.value.violations}
    assert by_column["amount"] == {"column": "amount", "rule": "type", "count": 1,
                                   "examples": ["abc"]}


def test_missing_values_in_non_nullable_columns_are_refused() -> None:
    found = _violations([GOOD, {**GOOD, "amount": float("nan"), "channel": None}])
    assert found["amount"]["rule"] == "not_null" and found["amount"]["count"] == 1
    assert found["channel"]["rule"] == "not_null"
    assert "score" not in found  # nullable


def test_unknown_categories_and_bad_dates_are_refused() -> None:
    found = _violations({**GOOD, "country": "XX", "seen": "yesterday-ish"})
    assert found["country"]["rule"] == "category" and found["country"]["examples"] == ["XX"]
    assert found["seen"]["rule"] == "type"


def test_a_numeric_column_given_for_a_string_column_is_refused() -> None:
    frame = pd.DataFrame([GOOD]).assign(channel=[1.5])
    assert _violations(frame)["channel"]["examples"] == ["1.5"]


def test_arrays_must_have_the_signature_width() -> None:
    sig = Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("b", "float")))
    assert prepare_input(np.array([[1, 2], [3, 4]]), sig)["b"].tolist() == [2.0, 4.0]
    assert prepare_input([1.0, 2.0], sig).shape == (1, 2)
    assert prepare_input([[1, "2"]], Signature(inputs=(
        ColumnSpec("a", "float"), ColumnSpec("b", "string"))))["b"].tolist() == ["2"]
    with pytest.raises(InvalidInput, match="has 3 columns, but the model takes 2: a, b"):
        prepare_input(np.zeros((2, 3)), sig)
    with pytest.raises(InvalidInput, match="shape"):
        prepare_input(np.zeros((2, 2, 2)), sig)
    with pytest.raises(InvalidInput, match="no rows"):
        prepare_input(pd.DataFrame(columns=["a", "b"]), sig)
    with pytest.raises(InvalidInput, match="cannot predict on a str"):
        prepare_input("a,b", sig)


def test_a_dict_of_columns_is_accepted() -> None:
    sig = Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("b", "string")))
    frame = prepare_input({"a": [1, 2], "b": ["x", "y"]}, sig)
    assert frame.shape == (2, 2)
    with pytest.raises(InvalidInput, match="differ in length"):
        prepare_input({"a": [1, 2], "b": ["x"]}, sig)


def test_the_loaded_predictor_refuses_bad_input_before_the_model(
    yard: modelyard.Yard, mixed: Mixed, mixed_pipeline: Pipeline
) -> None:
    frame, _ = mixed
    yard.models.register("orders", mixed_pipeline, input_example=frame)
    predictor = yard.models.load("orders")
    assert isinstance(predictor, Predictor)
    assert "Predictor('orders/versions/1'" in repr(predictor)
    bad = frame.head(3).assign(amount=["abc", 1.0, 2.0]).drop(columns=["items"])
    with pytest.raises(ValidationFailed) as info:
        predictor.predict(bad)
    assert info.value.message.startswith(
        "input does not match the signature of orders/versions/1:")
    assert "column 'items': is missing" in info.value.message
    assert "column 'amount': expected float, got string values such as 'abc'" in (
        info.value.message)
    with pytest.raises(ValidationFailed, match="column 'country': unknown categories"):
        predictor.predict_proba(frame.head(1).assign(country="XX"))
    # The array form follows the signature's column order.
    np.testing.assert_array_equal(
        predictor.predict(frame.to_numpy(dtype=object)), mixed_pipeline.predict(frame))
