"""Validating data against a schema, reporting every violation at once.

Each check is one vectorised pandas operation per column (no loop over rows). A value that
cannot be read as its column's type is reported once, under ``type``, and left out of the
range and category checks.

Rules: ``missing_column``, ``unexpected_column``, ``type``, ``null``, ``below_min``,
``above_max``, ``unknown_category``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from ..errors import InvalidInput, ValidationFailed
from ._schema import ColumnSchema, Schema

__all__ = ["RULES", "ValidationReport", "Violation", "validate_frame"]

RULES: tuple[str, ...] = (
    "missing_column",
    "unexpected_column",
    "type",
    "null",
    "below_min",
    "above_max",
    "unknown_category",
)
MAX_EXAMPLES = 5
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class Violation(Mapping[str, Any]):
    """One broken rule; reads as attributes (``v.rule``) or as a dict (``v["rule"]``).

    Attributes:
        column: the column.
        rule: one of :data:`RULES`.
        count: offending values (1 for a rule about a whole column).
        examples: up to 5 offending values.
        rows: the row positions (0-based) of those examples.
        message: what is wrong, for people.

    Example:
        >>> v = Violation("age", "null", 2, (None, None), (3, 9), "column 'age': ...")
        >>> v.rule == v["rule"] == "null", dict(v)["rows"]
        (True, [3, 9])
    """

    column: str
    rule: str
    count: int
    examples: tuple[Any, ...]
    rows: tuple[int, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The violation as a JSON-ready dict."""
        return {
            "column": self.column,
            "rule": self.rule,
            "count": self.count,
            "examples": list(self.examples),
            "rows": list(self.rows),
            "message": self.message,
        }

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("column", "rule", "count", "examples", "rows", "message"))

    def __len__(self) -> int:
        return 6


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating data against a schema.

    Attributes:
        violations: every broken rule, in column order.
        n_rows: rows checked.
        against: what the data was checked against (``fraud@3`` or ``schema``).

    Example:
        >>> report = validate_frame(pd.DataFrame({"a": [1]}), Schema.from_dict(
        ...     {"columns": [{"name": "a", "type": "integer", "min": 2}]}))
        >>> report.ok, report.violations[0].rule
        (False, 'below_min')
    """

    violations: tuple[Violation, ...]
    n_rows: int
    against: str = "schema"

    @property
    def ok(self) -> bool:
        """Whether the data broke no rule."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        """One line: ``ok`` or the number of violations and the first few messages."""
        if self.ok:
            return f"{self.n_rows} rows match {self.against}"
        shown = "; ".join(v.message for v in self.violations[:3])
        more = len(self.violations) - 3
        tail = f"; and {more} more" if more > 0 else ""
        return (
            f"data does not match {self.against}: {len(self.violations)} violation(s): "
            f"{shown}{tail}"
        )

    def raise_if_failed(self) -> None:
        """Raise :class:`~modelyard.errors.ValidationFailed` unless the data is valid.

        Raises:
            ValidationFailed: carrying every violation as a dict.
        """
        if not self.ok:
            raise ValidationFailed(self.summary(), [v.to_dict() for v in self.violations])

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "against": self.against,
            "violations": [v.to_dict() for v in self.violations],
        }


def validate_frame(
    frame: pd.DataFrame, schema: Schema, *, against: str = "schema"
) -> ValidationReport:
    """Check a frame against a schema and report every violation.

    Args:
        frame: the data, as is (it is not canonicalised: wrong types are reported).
        schema: the rules.
        against: a name for the schema in messages, e.g. ``fraud@3``.

    Returns:
        The report; ``report.ok`` when nothing is wrong.

    Raises:
        InvalidInput: ``frame`` is not a DataFrame or names a column twice.

    Example:
        >>> schema = Schema.from_dict({"columns": [{"name": "a", "type": "float"}]})
        >>> validate_frame(pd.DataFrame({"a": [0.5], "b": [1]}), schema).violations[0].rule
        'unexpected_column'
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"expected a pandas DataFrame to validate, got {type(frame).__name__}")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InvalidInput("the data names a column twice; rename duplicate columns")
    data = frame.set_axis(names, axis=1).reset_index(drop=True)
    found: list[Violation] = []
    for column in schema:
        if column.name not in data.columns:
            found.append(_whole(column.name, "missing_column",
                                f"column {column.name!r} ({column.type}) is missing"))
            continue
        found.extend(_check_column(data[column.name], column))
    for name in names:
        if name not in schema:
            found.append(_whole(name, "unexpected_column",
                                f"column {name!r} is not in {against}"))
    return ValidationReport(tuple(found), len(data), against)


def _whole(column: str, rule: str, message: str) -> Violation:
    return Violation(column, rule, 1, (), (), message)


def _violation(
    series: pd.Series[Any], mask: pd.Series[bool], rule: str, what: str
) -> Violation | None:
    count = int(mask.sum())
    if count == 0:
        return None
    rows = np.flatnonzero(mask.to_numpy())[:MAX_EXAMPLES]
    examples = tuple(_jsonable(v) for v in series.iloc[rows].tolist())
    shown = ", ".join(repr(e) for e in examples)
    return Violation(
        column=str(series.name),
        rule=rule,
        count=count,
        examples=examples,
        rows=tuple(int(r) for r in rows),
        message=f"column {series.name!r}: {count} value(s) {what} (e.g. {shown})",
    )


def _check_column(series: pd.Series[Any], column: ColumnSchema) -> list[Violation]:
    present = series.notna()
    coerced, bad_type = _coerce(series, column.type, present)
    checks: list[Violation | None] = [
        _violation(series, bad_type, "type", f"are not {column.type}"),
    ]
    if not column.nullable:
        nulls = ~present
        checks.append(_violation(series, nulls, "null", "are missing but the column "
                                 "allows none") if bool(nulls.any()) else None)
    valid = present & ~bad_type
    if not bool(valid.any()):
        return [c for c in checks if c is not None]
    if column.type in {"integer", "float", "datetime"}:
        low = _bound(column.min, column.type, coerced)
        high = _bound(column.max, column.type, coerced)
        if low is not None:
            below = valid & (coerced < low)
            checks.append(_violation(series, below, "below_min",
                                     f"are below the minimum {column.min!r}"))
        if high is not None:
            above = valid & (coerced > high)
            checks.append(_violation(series, above, "above_max",
                                     f"are above the maximum {column.max!r}"))
    if column.type in {"string", "categorical"} and column.categories is not None:
        allowed = [str(c) for c in column.categories]
        unknown = valid & ~coerced.astype(str).isin(allowed)
        checks.append(_violation(series, unknown, "unknown_category",
                                 f"are not among the {len(allowed)} known categories"))
    return [c for c in checks if c is not None]


def _coerce(
    series: pd.Series[Any], kind: str, present: pd.Series[bool]
) -> tuple[pd.Series[Any], pd.Series[bool]]:
    """The column read as ``kind`` (failures missing) and which present values failed."""
    dtype = series.dtype
    is_bool = ptypes.is_bool_dtype(dtype)
    is_number = ptypes.is_numeric_dtype(dtype) and not is_bool
    is_time = ptypes.is_datetime64_any_dtype(dtype)
    if kind in {"integer", "float"}:
        if is_bool or is_time:
            return _nothing(series), present.copy()
        numeric = series if is_number else pd.to_numeric(series, errors="coerce")
        numeric = numeric.astype("float64")
        failed = present & numeric.isna()
        if kind == "integer":
            values = numeric.to_numpy(dtype="float64", na_value=np.nan)
            finite = np.isfinite(values)
            wrong = ~finite & ~np.isnan(values)
            wrong[finite] = np.mod(values[finite], 1) != 0
            failed = failed | (present & pd.Series(wrong, index=series.index))
        return numeric.where(~failed), failed
    if kind == "boolean":
        if is_bool:
            return series, present & False
        text = series.astype(str).str.strip().str.lower()
        truth = text.isin(_TRUE)
        failed = present & ~(truth | text.isin(_FALSE))
        return truth.where(present & ~failed), failed
    if kind == "datetime":
        if is_time:
            return series, present & False
        if is_number or is_bool:
            return _nothing(series), present.copy()
        parsed = _parse_times(series)
        return parsed, present & parsed.isna()
    # string and categorical: text, or values of a categorical dtype
    if is_number or is_bool or is_time:
        return _nothing(series), present.copy()
    return series, present & False


def _parse_times(series: pd.Series[Any]) -> pd.Series[Any]:
    text = series.astype(str).where(series.notna())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(text, errors="coerce", format="ISO8601")
        except (ValueError, TypeError):
            # Mixed offsets, or offsets mixed with naive times: compare in UTC.
            return pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)


def _nothing(series: pd.Series[Any]) -> pd.Series[Any]:
    return pd.Series(np.nan, index=series.index, dtype="float64", name=series.name)


def _bound(value: Any, kind: str, coerced: pd.Series[Any]) -> Any:
    if value is None:
        return None
    if kind != "datetime":
        number = float(value)
        return None if math.isnan(number) else number
    stamp = pd.Timestamp(value)
    tz = getattr(coerced.dtype, "tz", None)
    if tz is not None and stamp.tzinfo is None:
        return stamp.tz_localize(tz)
    if tz is None and stamp.tzinfo is not None:
        return stamp.tz_convert(None)
    return stamp


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)
