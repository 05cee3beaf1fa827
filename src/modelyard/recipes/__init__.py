"""The reference systems: recipes that go from a real data set to a served, monitored model
that the loop keeps healthy. Run one with ``modelyard demo <name>`` or copy it as a template.

Example:
    >>> from modelyard.recipes import get_recipe, RecipeOptions  # doctest: +SKIP
    >>> get_recipe("fraud").run(yard, RecipeOptions(rows=1500, loop=False))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from ..errors import InvalidInput, NotFound
from ._base import Recipe as Recipe
from ._base import RecipeOptions as RecipeOptions
from ._base import RecipeResult as RecipeResult
from ._narrate import Narrator as Narrator
from ._narrate import step_heading as step_heading
from ._showcase import ShowcaseResult as ShowcaseResult
from ._showcase import showcase_loop as showcase_loop

__all__ = ["RECIPE_NAMES", "Narrator", "Recipe", "RecipeOptions", "RecipeResult",
           "ShowcaseResult", "get_recipe", "list_recipes", "showcase_loop", "step_heading"]

RECIPE_NAMES = ("fraud", "images", "movies", "sentiment")


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, imported on first use.

    Raises:
        NotFound: no recipe has that name; the message lists them.
        InvalidInput: a package the recipe needs is missing; the message says what to install.
    """
    if name not in RECIPE_NAMES:
        raise NotFound(f"no recipe {name!r}; choose from {', '.join(RECIPE_NAMES)}")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise InvalidInput(
            f"recipe {name!r} needs a package that is not installed ({exc}); "
            "pip install 'modelyard[recipes]'"
        ) from exc
    recipe: Recipe = module.RECIPE
    return recipe


def list_recipes() -> list[Recipe]:
    """Every recipe whose module imports (those whose packages are installed)."""
    out = []
    for name in RECIPE_NAMES:
        try:
            out.append(get_recipe(name))
        except InvalidInput:
            continue
    return out
