"""Model names, alias names and references."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidInput
from modelyard.registry._refs import ModelRef, check_alias, check_model_name, parse_ref


@pytest.mark.parametrize(("text", "expected"), [
    ("fraud", ModelRef("fraud")),
    ("fraud@latest", ModelRef("fraud")),
    ("fraud@champion", ModelRef("fraud", alias="champion")),
    ("fraud@3", ModelRef("fraud", version=3)),
    ("fraud/versions/12", ModelRef("fraud", version=12)),
    ("Fraud.v2_x-y", ModelRef("Fraud.v2_x-y")),
])
def test_references_parse(text: str, expected: ModelRef) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize("text", [
    "", "fraud@", "fraud@Champion", "fraud/3", "fraud/versions/x", "fraud/versions/",
    "-fraud", "fr aud", "fraud@a@b", "a/versions/1/versions/2",
])
def test_malformed_references_say_which_forms_exist(text: str) -> None:
    with pytest.raises(InvalidInput, match="name@alias"):
        parse_ref(text)


def test_names_and_aliases_follow_their_rules() -> None:
    assert check_model_name("a" * 100) == "a" * 100
    for bad in ("a" * 101, "", "_x", "x/y", "x@y"):
        with pytest.raises(InvalidInput, match="model name"):
            check_model_name(bad)
    assert check_alias("champion-2_b") == "champion-2_b"
    for bad in ("2", "Champion", "a" * 51, "a.b", ""):
        with pytest.raises(InvalidInput, match="alias"):
            check_alias(bad)
    with pytest.raises(InvalidInput, match="reserved"):
        check_alias("latest")
