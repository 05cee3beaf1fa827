"""The content hash: equal data, equal hash; any change, another hash; stable over time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelyard.data import canonicalize, content_hash


def _hash(frame: pd.DataFrame) -> str:
    return content_hash(canonicalize(frame))


def test_representation_does_not_change_the_hash() -> None:
    base = pd.DataFrame({"n": [1, 2], "s": ["a", None], "t": pd.to_datetime(["2024-01-01"] * 2)})
    other = pd.DataFrame(
        {
            "n": pd.array([1, 2], dtype="Int32"),
            "s": pd.Series(["a", np.nan], dtype=object),
            "t": pd.to_datetime(["2024-01-01"] * 2).astype("datetime64[ns]"),
        },
    ).set_axis([10, 20])
    assert _hash(base) == _hash(other)
    assert _hash(pd.DataFrame({"f": np.array([0.5, 1.5], dtype=np.float32)})) == _hash(
        pd.DataFrame({"f": [0.5, 1.5]})
    )


def test_any_change_changes_the_hash() -> None:
    base = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    variants = [
        pd.DataFrame({"a": [1, 3], "b": ["x", "y"]}),  # a value
        pd.DataFrame({"b": ["x", "y"], "a": [1, 2]}),  # column order
        pd.DataFrame({"a": [1, 2], "c": ["x", "y"]}),  # a name
        pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}),  # a logical type
        pd.DataFrame({"a": [2, 1], "b": ["y", "x"]}),  # row order
        pd.DataFrame({"a": [1, 2], "b": ["x", None]}),  # a missing value
        pd.DataFrame({"a": [1, 2], "b": pd.Categorical(["x", "y"])}),  # categorical
    ]
    hashes = {_hash(base), *(_hash(v) for v in variants)}
    assert len(hashes) == len(variants) + 1
    utc = pd.DataFrame({"t": pd.to_datetime(["2024-01-01"]).tz_localize("UTC")})
    oslo = pd.DataFrame({"t": utc["t"].dt.tz_convert("Europe/Oslo")})
    assert _hash(utc) != _hash(oslo)


def test_the_hash_is_pinned() -> None:
    # Changing the algorithm would silently fork every stored dataset's identity.
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.0], "c": ["x", "y", None]})
    assert _hash(frame) == PINNED


PINNED = "fe2ce7b9500aa1091c7d036b6931979c59778477b6945e4ef27c345972636725"
