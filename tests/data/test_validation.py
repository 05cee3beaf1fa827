"""Validation reports every planted violation, with counts, examples and rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.data import RULES, Schema, ValidationReport, infer_schema, validate_frame
from modelyard.errors import InvalidInput, NotFound, ValidationFailed


def _reference() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 100
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.uniform(1000.0, 9000.0, n),
            "plan": ["basic", "plus", "pro", "basic"] * (n // 4),
            "active": [True, False] * (n // 2),
            "signup": pd.date_range("2024-01-01", periods=n, freq="D"),
            "note": [f"n{i}" for i in range(n)],
        }
    )


def _planted() -> pd.DataFrame:
    bad = _reference().head(20).copy()
    bad = bad.drop(columns=["active"])  # missing_column
    bad["extra"] = 1  # unexpected_column
    bad["age"] = bad["age"].astype(object)
    bad.loc[[1, 2], "age"] = "old"  # type x2
    bad.loc[[3, 4, 5], "age"] = 5  # below_min x3
    bad.loc[6, "age"] = 150  # above_max x1
    bad.loc[[7, 8], "income"] = np.nan  # null x2
    bad.loc[9, "income"] = 1e9  # above_max x1
    bad.loc[[10, 11, 12, 13], "plan"] = "gold"  # unknown_category x4
    bad.loc[14, "signup"] = pd.Timestamp("2000-01-01")  # below_min x1
    return bad


def _found(report: ValidationReport) -> set[tuple[str, str, int]]:
    return {(v.column, v.rule, v.count) for v in report.violations}


def test_every_planted_violation_is_found_with_its_count() -> None:
    schema = infer_schema(_reference())
    report = validate_frame(_planted(), schema, against="users@1")
    assert not report.ok and not report
    assert _found(report) == {
        ("active", "missing_column", 1),
        ("extra", "unexpected_column", 1),
        ("age", "type", 2),
        ("age", "below_min", 3),
        ("age", "above_max", 1),
        ("income", "null", 2),
        ("income", "above_max", 1),
        ("plan", "unknown_category", 4),
        ("signup", "below_min", 1),
    }
    by_rule = {(v.column, v.rule): v for v in report.violations}
    age_type = by_rule[("age", "type")]
    assert age_type.examples == ("old", "old") and age_type.rows == (1, 2)
    assert by_rule[("age", "below_min")].examples == (5, 5, 5)
    assert by_rule[("plan", "unknown_category")].rows == (10, 11, 12, 13)
    assert by_rule[("signup", "below_min")].examples == ("2000-01-01T00:00:00",)
    assert "users@1" in report.summary()
    assert {v.rule for v in report.violations} <= set(RULES)


def test_examples_are_capped_at_five() -> None:
    schema = Schema.from_dict({"columns": [{"name": "x", "type": "float", "max": 1.0}]})
    report = validate_frame(pd.DataFrame({"x": np.arange(100.0)}), schema)
    (violation,) = report.violations
    assert violation.count == 98
    assert violation.examples == (2.0, 3.0, 4.0, 5.0, 6.0)


def test_raise_if_failed_carries_every_violation() -> None:
    report = validate_frame(_planted(), infer_schema(_reference()), against="users@1")
    with pytest.raises(ValidationFailed) as info:
        report.raise_if_failed()
    assert len(info.value.violations) == len(report.violations) == 9
    assert info.value.violations[0] == report.violations[0].to_dict()
    assert "\n" not in info.value.message
    assert info.value.to_dict()["violations"][0]["rule"] == "type"  # schema order
    validate_frame(_reference(), infer_schema(_reference())).raise_if_failed()


def test_type_rules_per_logical_type() -> None:
    schema = Schema.from_dict({"columns": [
        {"name": "i", "type": "integer"},
        {"name": "f", "type": "float"},
        {"name": "b", "type": "boolean"},
        {"name": "s", "type": "string"},
        {"name": "d", "type": "datetime"},
    ]})
    frame = pd.DataFrame({
        "i": [1.0, 2.5, np.inf, 4.0],
        "f": ["1.5", "x", "3", None],
        "b": ["true", "False", "maybe", "1"],
        "s": [1, 2, 3, 4],
        "d": ["2024-01-01", "yesterday", "2024-02-30", None],
    })
    found = _found(validate_frame(frame, schema))
    assert found == {
        ("i", "type", 2), ("f", "type", 1), ("b", "type", 1), ("s", "type", 4),
        ("d", "type", 2),
    }


def test_a_valid_frame_passes() -> None:
    frame = _reference()
    report = validate_frame(frame.sample(frac=0.5, random_state=1), infer_schema(frame))
    assert report.ok and report.violations == () and report.n_rows == 50
    assert "match" in report.summary()


def test_validate_against_a_dataset_version_and_a_file(
    yard: modelyard.Yard, tmp_path: Path
) -> None:
    version = yard.datasets.ingest(_reference(), name="users")
    _planted().to_csv(tmp_path / "new.csv", index=False)
    from_file = yard.datasets.validate(tmp_path / "new.csv", "users")
    from_frame = yard.datasets.validate(_planted(), version)
    assert _found(from_file) == _found(from_frame)
    assert from_file.against == "users@1"
    assert yard.datasets.validate(_reference(), yard.datasets.schema("users@1")).ok
    assert yard.datasets.validate(_reference(), version.schema).ok
    with pytest.raises(NotFound, match="no version 4 of dataset 'users'; it has versions 1"):
        yard.datasets.validate(_reference(), "users@4")
    with pytest.raises(InvalidInput, match="not int"):
        yard.datasets.validate(_reference(), 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="names a column twice"):
        yard.datasets.validate(pd.DataFrame([[1, 2]], columns=["a", "a"]), version)


def test_mixed_time_zones_and_nullable_columns() -> None:
    reference = pd.DataFrame({
        "t": pd.to_datetime(["2024-01-01", "2024-01-03"]).tz_localize("UTC"),
        "n": pd.array([1, None], dtype="Int64"),
    })
    new = pd.DataFrame({
        "t": ["2023-12-01T00:00:00+00:00", "2024-01-02", "x"],
        "n": pd.Series([1, None, 9], dtype=object),
    })
    assert _found(validate_frame(new, infer_schema(reference))) == {
        ("t", "type", 1), ("t", "below_min", 1), ("n", "above_max", 1),
    }
    assert validate_frame(reference, infer_schema(reference)).ok
