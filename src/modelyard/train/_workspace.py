"""What training needs from its caller: where data comes from and where runs and versions go.

The composition root (:class:`modelyard.Yard`) satisfies it; so does any object with these
three attributes, which is how tests and other tools hand training exactly what it uses.
"""

from __future__ import annotations

from typing import Protocol

from ..data import Datasets
from ..registry import Models
from ..tracking import Runs

__all__ = ["Workspace"]


class Workspace(Protocol):
    """The datasets training reads, the runs it records and the registry it registers into.

    Example:
        >>> from modelyard.train import train
        >>> train(yard, "spec.toml")  # a Yard is a Workspace  # doctest: +SKIP
    """

    @property
    def datasets(self) -> Datasets:
        """Dataset versions: the training data."""

    @property
    def runs(self) -> Runs:
        """Tracked runs: where the training run is recorded."""

    @property
    def models(self) -> Models:
        """The registry: where the fitted model is registered and aliased."""
