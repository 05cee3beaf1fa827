"""Request validation built from a signature: what passes, and how each bad field is named."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from modelyard.errors import InvalidInput, ValidationFailed
from modelyard.registry import ColumnSpec, Signature
from modelyard.serve import InputSchema
from modelyard.serve._errors import PayloadTooLarge

SIG = Signature(inputs=(
    ColumnSpec("amount", "float"),
    ColumnSpec("count", "integer"),
    ColumnSpec("score", "float", nullable=True),
    ColumnSpec("country", "categorical", categories=("DE", "FR")),
    ColumnSpec("active", "boolean"),
    ColumnSpec("note", "string", nullable=True),
))
NUMERIC = Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("b", "integer"),
                            ColumnSpec("c", "float", nullable=True)))
GOOD: dict[str, Any] = {"amount": 1.5, "count": 2, "score": None, "country": "DE",
                        "active": True, "note": "x"}


def parse(schema: InputSchema, body: Any) -> Any:
    return schema.parse(body if isinstance(body, bytes) else json.dumps(body).encode())


def rules(exc: ValidationFailed) -> set[tuple[str | None, str]]:
    return {(v["column"], v["rule"]) for v in exc.violations}


def test_a_record_and_a_list_pass() -> None:
    schema = InputSchema(SIG, "t", 10)
    assert parse(schema, GOOD).n == 1
    parsed = parse(schema, [GOOD, {**GOOD, "score": 2, "note": None}])
    assert parsed.n == 2 and parsed.matrix is None and parsed.records[1]["score"] == 2


def test_numeric_signatures_give_a_float_matrix_with_nan_for_nulls() -> None:
    schema = InputSchema(NUMERIC, "t", 10)
    parsed = parse(schema, [{"a": 1, "b": 2, "c": None}, {"a": 0.5, "b": -1}])
    assert parsed.matrix is not None and parsed.matrix.shape == (2, 3)
    assert parsed.matrix[0, :2].tolist() == [1.0, 2.0] and math.isnan(parsed.matrix[1, 2])
    assert parse(schema, b'{"a": 1, "b": 2, "c": NaN}').n == 1  # NaN is a null there


def test_every_bad_field_is_named_with_its_rule_and_rows() -> None:
    schema = InputSchema(SIG, "t", 10)
    bad = {"amount": "1.5", "count": 2.5, "country": "XX", "active": 1, "extra": 0,
           "note": 3}
    with pytest.raises(ValidationFailed) as err:
        parse(schema, [GOOD, bad])
    assert rules(err.value) == {("amount", "type"), ("count", "type"), ("country", "category"),
                                ("active", "type"), ("extra", "unknown_column"),
                                ("note", "type")}
    assert all(v["rows"] == [1] for v in err.value.violations)
    missing = {k: v for k, v in GOOD.items() if k != "count"}
    with pytest.raises(ValidationFailed) as err:
        parse(schema, missing)
    assert rules(err.value) == {("count", "missing_column")}
    assert "count" in err.value.message and "expected fields" in err.value.message


def test_nan_and_null_only_where_nullable() -> None:
    schema = InputSchema(NUMERIC, "t", 10)
    with pytest.raises(ValidationFailed) as err:
        parse(schema, b'{"a": NaN, "b": null, "c": 1}')
    assert rules(err.value) == {("a", "not_finite"), ("b", "not_null")}
    with pytest.raises(ValidationFailed) as err:
        parse(schema, b'{"a": Infinity, "b": 1}')
    assert rules(err.value) == {("a", "not_finite")}


def test_integers_must_be_json_integers_and_booleans_are_not_numbers() -> None:
    schema = InputSchema(NUMERIC, "t", 10)
    for value in [1.5, True, "1"]:
        with pytest.raises(ValidationFailed) as err:
            parse(schema, {"a": 1.0, "b": value})
        assert rules(err.value) == {("b", "type")}


@pytest.mark.parametrize(("body", "error"), [
    (b"", InvalidInput), (b"12", InvalidInput), (b'"x"', InvalidInput), (b"[]", InvalidInput),
    (b"{", InvalidInput), (b"[1]", ValidationFailed), (b"[{}, 2]", ValidationFailed),
])
def test_bodies_that_are_not_records(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        InputSchema(NUMERIC, "t", 10).parse(body)


def test_too_many_records_is_payload_too_large() -> None:
    schema = InputSchema(NUMERIC, "t", 3)
    with pytest.raises(PayloadTooLarge) as err:
        parse(schema, [{"a": 1, "b": 1}] * 4)
    assert err.value.http_status == 413


def test_unknown_inputs_pass_through() -> None:
    schema = InputSchema(Signature(), "t", 10)
    parsed = parse(schema, [{"anything": 1}])
    assert parsed.n == 1 and parsed.matrix is None


def test_the_json_schema_shows_fields_types_and_limits() -> None:
    schema = InputSchema(SIG, "fraud_v1_record", 7)
    record = schema.record_schema()
    assert record["title"] == "fraud_v1_record" and record["additionalProperties"] is False
    assert record["properties"]["amount"]["type"] == "number"
    assert record["properties"]["count"]["type"] == "integer"
    assert record["properties"]["country"]["enum"] == ["DE", "FR"]
    assert set(record["required"]) == {"amount", "count", "country", "active"}
    assert schema.request_schema()["anyOf"][1]["maxItems"] == 7


STRICT = Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("b", "integer")))


@pytest.mark.parametrize(("record", "rule"), [
    ({"a": True, "b": 1}, ("a", "type")), ({"a": "1.5", "b": 1}, ("a", "type")),
    ({"a": 1.0, "b": 2.0}, ("b", "type")), ({"a": 1.0, "b": False}, ("b", "type")),
    ({"a": 1.0, "b": 1, "c": 2}, ("c", "unknown_column")), ({"a": 1.0}, ("b", "missing_column")),
    ({"a": None, "b": 1}, ("a", "not_null")), ({"a": [1.0], "b": 1}, ("a", "type")),
])
def test_plain_numbers_are_checked_as_strictly_as_the_schema(
        record: dict[str, Any], rule: tuple[str, str]) -> None:
    """Records of plain numbers skip pydantic (a quicker check); everything else still gets
    the full validation's named errors, in a list too (with its row)."""
    schema = InputSchema(STRICT, "t", 3)
    with pytest.raises(ValidationFailed) as err:
        parse(schema, record)
    assert rules(err.value) == {rule}
    with pytest.raises(ValidationFailed) as err:
        parse(schema, [{"a": 0.5, "b": 0}, record])
    assert rules(err.value) == {rule} and all(v["rows"] == [1] for v in err.value.violations)


def test_plain_numbers_give_the_same_matrix() -> None:
    schema = InputSchema(STRICT, "t", 3)
    assert parse(schema, {"a": 1, "b": -2}).matrix.tolist() == [[1.0, -2.0]]
    assert parse(schema, [{"b": 3, "a": 0.25}, {"a": -1e300, "b": 0}]).matrix.tolist() == [
        [0.25, 3.0], [-1e300, 0.0]]
    huge = parse(schema, b'{"a": 123456789012345678901234567890, "b": 1}')
    assert huge.matrix.tolist() == [[1.2345678901234568e29, 1.0]]
    wide = parse(schema, b'{"a": 1.5, "b": 123456789012345678901234567890}')  # an int still
    assert wide.matrix.tolist() == [[1.5, 1.2345678901234568e29]]
    for body in (b'{"a": NaN, "b": 1}', b'{"a": Infinity, "b": 1}'):
        with pytest.raises(ValidationFailed) as err:
            schema.parse(body)
        assert rules(err.value) == {("a", "not_finite")}
    with pytest.raises(PayloadTooLarge):
        parse(schema, [{"a": 1.0, "b": 1}] * 4)
    with pytest.raises(InvalidInput):
        schema.parse(b"[]")
