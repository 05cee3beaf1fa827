"""Schema inference: types, missing values, ranges, categories; dict round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.data import LOGICAL_TYPES, ColumnSchema, Schema, infer_schema
from modelyard.errors import InvalidInput


def test_inference_values() -> None:
    n = 200
    frame = pd.DataFrame(
        {
            "age": np.arange(n) % 90 + 18,
            "score": np.linspace(-1.0, 1.0, n),
            "country": ["NO", "PE", "JP", None] * (n // 4),
            "comment": [f"text {i}" for i in range(n)],
            "vip": [True, False] * (n // 2),
            "joined": pd.date_range("2023-01-01", periods=n, freq="D"),
            "tier": pd.Categorical(["gold", "silver"] * (n // 2)),
            "refs": pd.array([1, None] * (n // 2), dtype="Int64"),
        }
    )
    schema = infer_schema(frame)
    assert schema.names == list(frame.columns)
    assert schema.n_rows == n
    assert {c.name: c.type for c in schema} == {
        "age": "integer", "score": "float", "country": "string", "comment": "string",
        "vip": "boolean", "joined": "datetime", "tier": "categorical", "refs": "integer",
    }
    age = schema["age"]
    assert (age.min, age.max, age.nullable, age.null_count) == (18, 107, False, 0)
    assert age.mean == pytest.approx(frame["age"].mean())
    assert age.std == pytest.approx(frame["age"].std())
    assert isinstance(age.min, int)
    assert schema["score"].min == -1.0 and schema["score"].max == 1.0
    country = schema["country"]
    assert (country.nullable, country.null_count) == (True, 50)
    assert country.categories == ("JP", "NO", "PE")
    assert schema["comment"].categories is None  # every value distinct
    assert schema["comment"].distinct == n
    assert schema["joined"].min == "2023-01-01T00:00:00"
    assert schema["joined"].max == "2023-07-19T00:00:00"
    assert schema["tier"].categories == ("gold", "silver")
    assert (schema["refs"].null_count, schema["refs"].max) == (100, 1)


def test_categories_need_few_values_and_repeats() -> None:
    few_rows = infer_schema(pd.DataFrame({"c": ["a", "b", "c"]}))
    assert few_rows["c"].categories is None  # 3 distinct in 3 rows: not categorical
    many = infer_schema(pd.DataFrame({"c": [f"v{i % 51}" for i in range(1000)]}))
    assert many["c"].categories is None  # 51 > 50 distinct
    ok = infer_schema(pd.DataFrame({"c": [f"v{i % 50}" for i in range(1000)]}))
    assert ok["c"].categories is not None and len(ok["c"].categories) == 50


def test_round_trip_through_json() -> None:
    frame = pd.DataFrame({"x": [1.5, np.nan, 3.0], "y": ["a", "a", "b"], "n": [1, 2, 3]})
    schema = infer_schema(frame)
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    assert "x" in again and "z" not in again and len(again) == 3


def test_hand_written_schema_and_errors() -> None:
    schema = Schema.from_dict({"columns": [{"name": "a", "type": "integer"}]})
    assert schema["a"] == ColumnSchema("a", "integer")
    assert schema.n_rows is None
    with pytest.raises(InvalidInput, match="unknown type 'int'; use one of: integer"):
        ColumnSchema("a", "int")
    with pytest.raises(InvalidInput, match="needs 'name' and 'type'"):
        Schema.from_dict({"columns": [{"name": "a"}]})
    with pytest.raises(InvalidInput, match="'columns' list"):
        Schema.from_dict({"cols": []})
    with pytest.raises(InvalidInput, match="same column twice"):
        Schema((ColumnSchema("a", "float"), ColumnSchema("a", "float")))
    with pytest.raises(KeyError, match="no column 'b'; columns: a"):
        schema["b"]
    assert LOGICAL_TYPES == ("integer", "float", "boolean", "string", "categorical", "datetime")


def test_schema_is_stored_with_the_version(yard: object) -> None:
    import modelyard

    assert isinstance(yard, modelyard.Yard)
    frame = pd.DataFrame({"k": [3, 1, 2], "v": ["x", "y", "x"]})
    version = yard.datasets.ingest(frame, name="small")
    assert version.schema == infer_schema(frame).to_dict()
    assert yard.datasets.get("small@1").schema == version.schema
    assert yard.datasets.schema("small")["k"].max == 3
