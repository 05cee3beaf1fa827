"""What a reference system is: a name, the extra it needs, and a function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..yard import Yard

__all__ = ["Recipe", "RecipeOptions", "RecipeResult"]


@dataclass(frozen=True)
class RecipeOptions:
    """How to run a recipe.

    Attributes:
        rows: use only this many rows (a small slice for tests); all when ``None``.
        trials: Optuna trials for the tuned model (0: no tuning).
        loop: then serve the champion, stream traffic, plant drift and let the loop answer.
        quiet: print nothing.
    """

    rows: int | None = None
    trials: int = 0
    loop: bool = True
    quiet: bool = False


@dataclass(frozen=True)
class RecipeResult:
    """What a recipe reached.

    Attributes:
        model: the registered model's name.
        champion_version: the version ``<model>@champion`` points at when the recipe ends.
        metrics: the champion's figures: its metrics on the test rows (which chose nothing),
            ``api_latency_*_ms`` (in-process requests through the prediction API) and
            ``http_latency_*_ms`` (a client over real HTTP while the loop ran).
        notes: anything else worth reporting (baselines, thresholds, the loop's outcome).
    """

    model: str
    champion_version: int
    metrics: dict[str, float]
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """A reference system, runnable with ``modelyard demo <name>``.

    Attributes:
        name: the name on the command line.
        title: one line saying what it builds.
        extra: the pip extra it needs: ``""``, ``"recipes"`` or ``"torch"``.
        run: the function that runs it in a yard.
    """

    name: str
    title: str
    extra: str
    run: Callable[[Yard, RecipeOptions], RecipeResult]
