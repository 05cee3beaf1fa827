"""Schemas: what each column of a dataset version holds, inferred on ingest.

A schema lists the columns in order with their logical type (the vocabulary the registry
also uses for model signatures), whether they hold missing values, and summary statistics
that validation checks new data against: min and max for numbers and datetimes, the
categories of text columns with few distinct values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ._canonical import LOGICAL_TYPES, canonicalize, logical_type

__all__ = ["MAX_CATEGORIES", "ColumnSchema", "Schema", "infer_schema"]

MAX_CATEGORIES = 50
"""Text columns with at most this many distinct values (and fewer than half the rows) get a
categories list."""

Scalar = int | float | str | bool


@dataclass(frozen=True)
class ColumnSchema:
    """One column of a schema.

    Attributes:
        name: the column name.
        type: the logical type: ``integer``, ``float``, ``boolean``, ``string``,
            ``categorical`` or ``datetime``.
        nullable: whether missing values are allowed.
        null_count: missing values seen when the schema was inferred.
        min: smallest value (numbers; datetimes as ISO 8601 text), or ``None``.
        max: largest value, or ``None``.
        mean: mean of a numeric column, or ``None``.
        std: sample standard deviation of a numeric column, or ``None``.
        distinct: distinct non-missing values seen, or ``None``.
        categories: the allowed values of a text or categorical column, or ``None`` (any).

    Example:
        >>> ColumnSchema("age", "integer", min=0, max=120).to_dict()["max"]
        120
    """

    name: str
    type: str
    nullable: bool = True
    null_count: int = 0
    min: Scalar | None = None
    max: Scalar | None = None
    mean: float | None = None
    std: float | None = None
    distinct: int | None = None
    categories: tuple[Scalar, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES:
            raise InvalidInput(
                f"column {self.name!r} has unknown type {self.type!r}; use one of: "
                f"{', '.join(LOGICAL_TYPES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The column as a JSON-ready dict."""
        return {
            "name": self.name,
            "type": self.type,
            "nullable": self.nullable,
            "null_count": self.null_count,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "distinct": self.distinct,
            "categories": None if self.categories is None else list(self.categories),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSchema:
        """Rebuild a column from :meth:`to_dict` output (only ``name`` and ``type`` needed).

        Raises:
            InvalidInput: ``name`` or ``type`` is missing, or the type is unknown.
        """
        if "name" not in data or "type" not in data:
            raise InvalidInput(
                f"a schema column needs 'name' and 'type'; got keys {sorted(data)}"
            )
        cats = data.get("categories")
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            nullable=bool(data.get("nullable", True)),
            null_count=int(data.get("null_count", 0)),
            min=data.get("min"),
            max=data.get("max"),
            mean=data.get("mean"),
            std=data.get("std"),
            distinct=data.get("distinct"),
            categories=None if cats is None else tuple(cats),
        )


@dataclass(frozen=True)
class Schema:
    """The columns of a dataset, in order.

    Args:
        columns: the columns.
        n_rows: rows seen when the schema was inferred (``None`` for a hand-written schema).

    Raises:
        InvalidInput: two columns share a name.

    Example:
        >>> schema = infer_schema(pd.DataFrame({"x": [1.5, 2.5], "y": ["a", "b"]}))
        >>> [(c.name, c.type) for c in schema]
        [('x', 'float'), ('y', 'string')]
        >>> Schema.from_dict(schema.to_dict()) == schema
        True
    """

    columns: tuple[ColumnSchema, ...]
    n_rows: int | None = None
    _by_name: dict[str, ColumnSchema] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.columns}
        if len(by_name) != len(self.columns):
            raise InvalidInput("a schema names the same column twice")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnSchema:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self.names)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[ColumnSchema]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        """The schema as a JSON-ready dict: ``{"n_rows": ..., "columns": [...]}``."""
        return {"n_rows": self.n_rows, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild a schema from :meth:`to_dict` output.

        Raises:
            InvalidInput: the dict has no ``columns`` list or a column is malformed.
        """
        columns = data.get("columns") if isinstance(data, Mapping) else None
        if not isinstance(columns, list):
            raise InvalidInput("a schema dict needs a 'columns' list")
        n_rows = data.get("n_rows")
        return cls(
            columns=tuple(ColumnSchema.from_dict(c) for c in columns),
            n_rows=None if n_rows is None else int(n_rows),
        )


def infer_schema(frame: pd.DataFrame) -> Schema:
    """Infer the schema of a frame: types, missing values, ranges, categories.

    Args:
        frame: the data; it is canonicalised first (see :func:`canonicalize`).

    Returns:
        The schema, with statistics of every column.

    Raises:
        InvalidInput: the frame cannot be canonicalised (no rows, duplicate names, ...).

    Example:
        >>> s = infer_schema(pd.DataFrame({"n": [1, 5, None]}))
        >>> s["n"].type, s["n"].null_count, s["n"].min, s["n"].max
        ('integer', 1, 1, 5)
    """
    data = canonicalize(frame)
    return Schema(
        columns=tuple(_infer_column(data[name]) for name in data.columns),
        n_rows=len(data),
    )


def _infer_column(series: pd.Series[Any]) -> ColumnSchema:
    kind = logical_type(series)
    nulls = int(series.isna().sum())
    present = series.dropna()
    stats: dict[str, Any] = {"distinct": int(present.nunique())}
    if kind in {"integer", "float"} and len(present):
        values = present.to_numpy(dtype="float64")
        finite = values[np.isfinite(values)]
        stats["min"] = _number(present.min(), kind)
        stats["max"] = _number(present.max(), kind)
        stats["mean"] = _float(finite.mean()) if len(finite) else None
        stats["std"] = _float(finite.std(ddof=1)) if len(finite) > 1 else None
    elif kind == "datetime" and len(present):
        stats["min"] = pd.Timestamp(present.min()).isoformat()
        stats["max"] = pd.Timestamp(present.max()).isoformat()
    elif kind == "categorical":
        stats["categories"] = tuple(_scalar(c) for c in series.cat.categories)
    elif kind == "string":
        distinct = stats["distinct"]
        if distinct <= MAX_CATEGORIES and distinct < 0.5 * len(series):
            stats["categories"] = tuple(sorted(str(v) for v in present.unique()))
    return ColumnSchema(
        name=str(series.name), type=kind, nullable=nulls > 0, null_count=nulls, **stats
    )


def _number(value: Any, kind: str) -> Scalar:
    return int(value) if kind == "integer" else float(value)


def _float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _scalar(value: Any) -> Scalar:
    if isinstance(value, np.generic):
        item = value.item()
        return item if isinstance(item, int | float | str | bool) else str(item)
    return value if isinstance(value, int | float | str | bool) else str(value)
