"""Canonical form: one dtype per logical type, whatever the source used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.data import canonicalize
from modelyard.data._canonical import logical_type, parse_iso_datetimes
from modelyard.errors import InvalidInput


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (pd.Series([1, 2, 3], dtype="int8"), "int64"),
        (pd.Series([1, None, 3], dtype=object), "Int64"),
        (pd.array([1, None, 3], dtype="UInt16"), "Int64"),
        (pd.Series([0.5, 1.0, 2.0], dtype="float32"), "float64"),
        (pd.Series([True, None, False], dtype=object), "boolean"),
        (pd.Series([True, False, True]), "bool"),
        (pd.Series(["a", None, "b"], dtype=object), "str"),
        (pd.Series([None, None, None], dtype=object), "str"),
        (pd.Series(pd.to_datetime(["2024-01-01"] * 3)).astype("datetime64[s]"),
         "datetime64[us]"),
        (pd.Series(pd.to_datetime(["2024-01-01 00:00:00.000000001"] * 3)), "datetime64[ns]"),
    ],
)
def test_dtypes_are_canonical(values: object, dtype: str) -> None:
    frame = canonicalize(pd.DataFrame({"c": values}))
    assert str(frame["c"].dtype) == dtype


def test_the_input_is_left_alone_and_the_index_reset() -> None:
    frame = pd.DataFrame({"a": np.array([1, 2], dtype="int32")}, index=[5, 9])
    out = canonicalize(frame)
    assert str(frame["a"].dtype) == "int32" and list(frame.index) == [5, 9]
    assert list(out.index) == [0, 1]
    assert canonicalize(pd.DataFrame({1: [1], 2: [2]})).columns.tolist() == ["1", "2"]


def test_text_dates_are_parsed_only_when_asked_and_all_iso() -> None:
    text = pd.DataFrame({"d": ["2024-01-01", "2024-01-02T10:00:00", None]})
    assert str(canonicalize(text)["d"].dtype) == "str"
    assert canonicalize(text, parse_dates=True)["d"].dtype.kind == "M"
    assert parse_iso_datetimes(pd.Series(["2024-01-01", "soon"])) is None
    assert parse_iso_datetimes(pd.Series(["2024", "2025"])) is None
    mixed = pd.Series(["2024-01-01T00:00:00+01:00", "2024-01-01T00:00:00+02:00"])
    assert parse_iso_datetimes(mixed) is None


def test_unstorable_columns_are_named() -> None:
    with pytest.raises(InvalidInput, match="column 'x' holds values of types"):
        canonicalize(pd.DataFrame({"x": [b"raw", b"bytes"]}))
    with pytest.raises(InvalidInput, match="empty name"):
        canonicalize(pd.DataFrame({" ": [1]}))
    with pytest.raises(InvalidInput, match="complex128"):
        logical_type(pd.Series([1j]))
    with pytest.raises(InvalidInput, match="expected a pandas DataFrame, got list"):
        canonicalize([1])  # type: ignore[arg-type]
