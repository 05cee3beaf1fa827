"""Seeded, reproducible, stratified and time-ordered splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

import modelyard
from modelyard.data import split_frame
from modelyard.errors import InvalidInput


def _frame(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "label": rng.choice(["a", "b", "c"], size=n, p=[0.7, 0.2, 0.1]),
        "at": pd.date_range("2024-01-01", periods=n, freq="h")[rng.permutation(n)],
    })


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    frame = _frame()
    train, test = split_frame(frame, seed=42)
    again_train, again_test = split_frame(frame, seed=42)
    pd.testing.assert_frame_equal(train, again_train)
    pd.testing.assert_frame_equal(test, again_test)
    other_train, _ = split_frame(frame, seed=43)
    assert not train.index.equals(other_train.index)
    assert (len(train), len(test)) == (800, 200)
    assert train.index.intersection(test.index).empty
    assert sorted([*train.index, *test.index]) == list(range(1000))
    assert train.index.is_monotonic_increasing  # original order kept


def test_three_way_split_sizes() -> None:
    train, val, test = split_frame(_frame(), test_size=0.2, validation_size=0.1, seed=0)
    assert (len(train), len(val), len(test)) == (700, 100, 200)
    assert len(set(train.index) | set(val.index) | set(test.index)) == 1000


def test_stratified_keeps_class_proportions() -> None:
    frame = _frame()
    counts = frame["label"].value_counts()
    _train, val, test = split_frame(
        frame, test_size=0.25, validation_size=0.15, seed=7, stratify="label"
    )
    assert (len(test), len(val)) == (250, 150)
    for part, share in ((test, 0.25), (val, 0.15)):
        got = part["label"].value_counts()
        for label, total in counts.items():
            assert abs(got[label] - total * share) <= 1, (label, got[label], total * share)
    repeat = split_frame(frame, test_size=0.25, validation_size=0.15, seed=7, stratify="label")
    assert repeat[2].index.equals(test.index)


def test_stratified_on_a_real_dataset() -> None:
    cancer = load_breast_cancer(as_frame=True).frame
    train, test = split_frame(cancer, test_size=0.3, seed=1, stratify="target")
    share = cancer["target"].mean()
    assert abs(test["target"].mean() - share) < 0.01
    assert abs(train["target"].mean() - share) < 0.01


def test_time_split_puts_the_newest_rows_in_test() -> None:
    frame = _frame()
    train, val, test = split_frame(frame, test_size=0.1, validation_size=0.1, time_column="at")
    assert train["at"].max() < val["at"].min()
    assert val["at"].max() < test["at"].min()
    assert (len(train), len(val), len(test)) == (800, 100, 100)


def test_split_a_stored_dataset(yard: modelyard.Yard) -> None:
    yard.datasets.ingest(_frame(200), name="events")
    train, test = yard.datasets.split("events@1", seed=5, stratify="label")
    again = yard.datasets.split("events", seed=5, stratify="label")
    pd.testing.assert_frame_equal(train, again[0])
    pd.testing.assert_frame_equal(test, again[1])
    assert len(test) == 40


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"test_size": 0}, r"test_size=0 must be a fraction"),
        ({"test_size": 1.5}, r"test_size=1.5 must be a fraction"),
        ({"validation_size": -0.1}, r"validation_size=-0.1 must be"),
        ({"test_size": 0.6, "validation_size": 0.4}, "leave no training rows"),
        ({"stratify": "nope"}, r"stratify='nope' is not a column; columns: x, label, at"),
        ({"time_column": "nope"}, "time_column='nope' is not a column"),
        ({"stratify": "label", "time_column": "at"}, "not both"),
    ],
)
def test_bad_split_arguments(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(InvalidInput, match=pattern):
        split_frame(_frame(50), **kwargs)  # type: ignore[arg-type]


def test_time_column_with_missing_times_is_refused() -> None:
    frame = _frame(10)
    frame.loc[3, "at"] = pd.NaT
    with pytest.raises(InvalidInput, match="1 missing value"):
        split_frame(frame, time_column="at")
