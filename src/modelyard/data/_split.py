"""Seeded, reproducible train / validation / test splits.

Rows are assigned by one random key per row drawn from ``numpy.random.default_rng(seed)``:
the same data and seed give the same rows in every split, on every machine. A stratified
split allocates each class its share of every split (largest remainders, so totals are
exact); a time split puts the newest rows in test. Every split keeps the original row
order and index labels, so rows can be traced back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput

__all__ = ["split_frame"]

_TRAIN, _VALIDATION, _TEST = 0, 1, 2


def split_frame(
    frame: pd.DataFrame,
    *,
    test_size: float = 0.2,
    validation_size: float = 0.0,
    seed: int = 0,
    stratify: str | None = None,
    time_column: str | None = None,
) -> tuple[pd.DataFrame, ...]:
    """Split a frame into train and test (and validation) parts.

    Args:
        frame: the data.
        test_size: fraction of rows for test, between 0 and 1.
        validation_size: fraction of rows for validation; 0 for no validation split.
        seed: the random seed; the same seed gives the same split.
        stratify: a column whose class proportions every split keeps.
        time_column: split by time instead of at random: the oldest rows train, the newest
            test (and validation in between).

    Returns:
        ``(train, test)``, or ``(train, validation, test)`` when ``validation_size > 0``.

    Raises:
        InvalidInput: sizes out of range or leaving no training rows, an unknown column,
            ``stratify`` with ``time_column``, or missing times.

    Example:
        >>> df = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
        >>> train, test = split_frame(df, test_size=0.2, stratify="y", seed=1)
        >>> len(train), len(test), sorted(test["y"])
        (8, 2, [0, 1])
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"can only split a DataFrame or a dataset, not {type(frame).__name__}")
    _check_size("test_size", test_size, allow_zero=False)
    _check_size("validation_size", validation_size, allow_zero=True)
    n = len(frame)
    n_test = math.ceil(test_size * n)
    n_val = math.ceil(validation_size * n)
    if n - n_test - n_val < 1:
        raise InvalidInput(
            f"test_size={test_size} and validation_size={validation_size} leave no training "
            f"rows out of {n}; use smaller sizes"
        )
    for option, column in (("stratify", stratify), ("time_column", time_column)):
        if column is not None and column not in frame.columns:
            raise InvalidInput(
                f"{option}={column!r} is not a column; columns: "
                f"{', '.join(map(str, frame.columns))}"
            )
    if stratify is not None and time_column is not None:
        raise InvalidInput("give stratify or time_column, not both: a time split is ordered")
    if time_column is not None:
        labels = _by_time(frame[time_column], n_test, n_val)
    else:
        rng = np.random.default_rng(seed)
        if stratify is not None:
            codes, _ = pd.factorize(frame[stratify], use_na_sentinel=False)
        else:
            codes = np.zeros(n, dtype=np.int64)
        labels = _stratified(np.asarray(codes, dtype=np.int64), n_test, n_val, rng)
    parts = [frame.iloc[np.flatnonzero(labels == _TRAIN)]]
    if validation_size > 0:
        parts.append(frame.iloc[np.flatnonzero(labels == _VALIDATION)])
    parts.append(frame.iloc[np.flatnonzero(labels == _TEST)])
    return tuple(parts)


def _check_size(name: str, value: Any, *, allow_zero: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    low_ok = ok and (value >= 0 if allow_zero else value > 0)
    if not (ok and low_ok and value < 1):
        bound = "0 <= x < 1" if allow_zero else "0 < x < 1"
        raise InvalidInput(f"{name}={value!r} must be a fraction of the rows ({bound})")


def _by_time(times: pd.Series[Any], n_test: int, n_val: int) -> np.ndarray[Any, Any]:
    if bool(times.isna().any()):
        raise InvalidInput(
            f"time_column {times.name!r} has {int(times.isna().sum())} missing value(s); "
            "every row needs a time to be ordered"
        )
    order = np.argsort(times.to_numpy(), kind="stable")
    n = len(order)
    labels = np.full(n, _TRAIN, dtype=np.int8)
    labels[order[n - n_test:]] = _TEST
    labels[order[n - n_test - n_val:n - n_test]] = _VALIDATION
    return labels


def _allocate(counts: np.ndarray[Any, Any], total: int) -> np.ndarray[Any, Any]:
    """Split ``total`` over groups in proportion to ``counts`` (largest remainders)."""
    if total == 0 or counts.sum() == 0:
        return np.zeros(len(counts), dtype=np.int64)
    ideal = counts * (total / counts.sum())
    base: np.ndarray[Any, Any] = np.minimum(np.floor(ideal).astype(np.int64), counts)
    short = total - int(base.sum())
    if short > 0:
        room = base < counts
        remainder = np.where(room, ideal - base, -1.0)
        # Ties go to the larger group, then the earlier one: deterministic.
        order = np.lexsort((np.arange(len(counts)), -counts, -remainder))
        base[order[:short]] += 1
    return base


def _stratified(
    codes: np.ndarray[Any, Any], n_test: int, n_val: int, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    n = len(codes)
    keys = rng.random(n)
    order = np.lexsort((keys, codes))  # by class, then random within class
    counts = np.bincount(codes)
    test_k = _allocate(counts, n_test)
    val_k = _allocate(counts - test_k, n_val)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_codes = codes[order]
    rank = np.arange(n) - starts[sorted_codes]
    labels_sorted = np.where(
        rank < test_k[sorted_codes],
        _TEST,
        np.where(rank < test_k[sorted_codes] + val_k[sorted_codes], _VALIDATION, _TRAIN),
    )
    labels = np.empty(n, dtype=np.int8)
    labels[order] = labels_sorted
    return labels
