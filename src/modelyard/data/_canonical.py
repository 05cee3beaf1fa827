"""One canonical form per table, so equal data has equal bytes to hash and store.

Every source (CSV, Parquet, SQL, DataFrame) ends up as a frame whose columns are named by
unique strings, kept in order, on a fresh ``RangeIndex``, and whose dtypes come from a small
set, one per logical type:

=============  ==================================================================
logical type   canonical dtype
=============  ==================================================================
``integer``    ``int64``; ``Int64`` when it has missing values
``float``      ``float64``
``boolean``    ``bool``; ``boolean`` when it has missing values
``string``     pandas' string dtype (missing values are ``NaN``)
``categorical`` ``category`` (categories as given)
``datetime``   ``datetime64[us]`` (``[ns]`` only when sub-microsecond), time zone kept
=============  ==================================================================
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from ..errors import InvalidInput

__all__ = ["LOGICAL_TYPES", "canonicalize", "logical_type", "parse_iso_datetimes"]

LOGICAL_TYPES: tuple[str, ...] = (
    "integer",
    "float",
    "boolean",
    "string",
    "categorical",
    "datetime",
)

# ISO 8601 dates and date-times, as CSV writers and SQLite store them.
_ISO_DATETIME = (
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)


def logical_type(series: pd.Series[Any]) -> str:
    """The logical type of a canonical column, one of :data:`LOGICAL_TYPES`.

    Args:
        series: a column of a frame that went through :func:`canonicalize`.

    Returns:
        ``integer``, ``float``, ``boolean``, ``string``, ``categorical`` or ``datetime``.

    Raises:
        InvalidInput: the dtype has no logical type (e.g. ``timedelta64``).

    Example:
        >>> logical_type(pd.Series([1, 2]))
        'integer'
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_integer_dtype(dtype):
        return "integer"
    if ptypes.is_float_dtype(dtype):
        return "float"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_string_dtype(dtype):
        return "string"
    raise InvalidInput(
        f"column {series.name!r} has dtype {dtype}, which modelyard cannot store; convert it "
        f"to one of: {', '.join(LOGICAL_TYPES)}"
    )


def canonicalize(frame: pd.DataFrame, *, parse_dates: bool = False) -> pd.DataFrame:
    """Bring a frame to its canonical form (see the module docstring); the input is not changed.

    Args:
        frame: the data. A named index is kept as leading columns; an unnamed one is dropped.
        parse_dates: turn text columns whose every value is an ISO 8601 date or date-time into
            datetimes (for text sources such as CSV, where types are lost).

    Returns:
        A new frame in canonical form.

    Raises:
        InvalidInput: no columns, no rows, duplicate or empty column names, a column that mixes
            value types, or a dtype modelyard cannot store.

    Example:
        >>> canonicalize(pd.DataFrame({"a": [1, None]})).dtypes["a"]
        Int64Dtype()
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    names = [str(name) for name in frame.columns]
    if not names:
        raise InvalidInput("the data has no columns")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInput(
            f"the data has duplicate column names: {', '.join(map(repr, duplicated))}; "
            "rename them so each column is named once"
        )
    if any(not n.strip() for n in names):
        raise InvalidInput("the data has a column with an empty name; name every column")
    if len(frame) == 0:
        raise InvalidInput("the data has no rows")
    columns = {
        name: _canonical_column(frame.iloc[:, i], name, parse_dates)
        for i, name in enumerate(names)
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


def _canonical_column(raw: pd.Series[Any], name: str, parse_dates: bool) -> pd.Series[Any]:
    series = raw.reset_index(drop=True).rename(name)
    dtype = series.dtype
    has_nulls = bool(series.isna().any())
    if isinstance(dtype, pd.CategoricalDtype):
        return series
    if ptypes.is_bool_dtype(dtype):
        return series.astype("boolean" if has_nulls else "bool")
    if ptypes.is_integer_dtype(dtype):
        if not has_nulls and _fits_int64(series):
            return series.astype("int64")
        if _fits_int64(series):
            return series.astype("Int64")
        return series.astype("float64")
    if ptypes.is_float_dtype(dtype):
        return series.astype("float64")
    if ptypes.is_datetime64_any_dtype(dtype):
        return _canonical_datetime(series)
    if ptypes.is_timedelta64_dtype(dtype) or ptypes.is_complex_dtype(dtype):
        raise InvalidInput(
            f"column {name!r} has dtype {dtype}, which modelyard cannot store; convert it to "
            f"one of: {', '.join(LOGICAL_TYPES)}"
        )
    return _canonical_objects(series, name, parse_dates)


def _fits_int64(series: pd.Series[Any]) -> bool:
    if series.dtype.kind != "u" and str(series.dtype) not in {"UInt64", "uint64"}:
        return True
    top = series.max()
    return bool(pd.isna(top) or int(top) <= np.iinfo(np.int64).max)


def _canonical_datetime(series: pd.Series[Any]) -> pd.Series[Any]:
    tz = getattr(series.dtype, "tz", None)
    sub_microsecond = False
    if str(series.dt.unit) == "ns":
        ints = series.dropna().to_numpy().astype("int64")
        sub_microsecond = bool((ints % 1000).any())
    if tz is not None:
        return series.astype(pd.DatetimeTZDtype(unit="ns" if sub_microsecond else "us", tz=tz))
    return series.astype("datetime64[ns]" if sub_microsecond else "datetime64[us]")


def _canonical_objects(series: pd.Series[Any], name: str, parse_dates: bool) -> pd.Series[Any]:
    """Text and object columns: strings, booleans read from text, or an error."""
    present = series.dropna()
    if len(present) == 0:
        return series.astype("str")
    values = present.to_numpy(dtype=object)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "boolean":
        return series.astype("boolean") if len(present) < len(series) else series.astype(bool)
    if kind == "integer":
        return _canonical_column(pd.to_numeric(series).astype("Int64"), name, parse_dates)
    if kind in {"floating", "mixed-integer-float", "decimal"}:
        numeric = pd.to_numeric(series)
        return _canonical_column(numeric, name, parse_dates)
    if kind in {"datetime", "datetime64", "date"}:
        return _canonical_datetime(pd.to_datetime(series))
    if kind not in {"string", "empty"}:
        seen = sorted({type(v).__name__ for v in values[:1000]})
        raise InvalidInput(
            f"column {name!r} holds values of types {', '.join(seen)} ({kind}); modelyard "
            "stores one type per column: convert it, e.g. df[col].astype(str)"
        )
    strings = series.astype("str")
    if parse_dates:
        parsed = parse_iso_datetimes(strings)
        if parsed is not None:
            return _canonical_datetime(parsed)
    return strings


def parse_iso_datetimes(series: pd.Series[Any]) -> pd.Series[Any] | None:
    """Parse a text column as datetimes when every value is ISO 8601, else ``None``.

    Args:
        series: a text column.

    Returns:
        The parsed column, or ``None`` when some value is not an ISO date or date-time (or
        time zones are mixed).

    Example:
        >>> parse_iso_datetimes(pd.Series(["2024-01-31", "2024-02-01 10:00"])).dt.day.tolist()
        [31, 1]
    """
    present = series.dropna()
    if len(present) == 0 or not bool(present.str.match(_ISO_DATETIME).all()):
        return None
    with warnings.catch_warnings():
        # Mixed time zones warn, then fail in later pandas: either way it is text.
        warnings.simplefilter("error")
        try:
            return pd.to_datetime(series, format="ISO8601")
        except (ValueError, TypeError, OverflowError, Warning):
            return None
