"""What the loop needs from its caller: training's workspace plus the store, the monitor and
the settings.

The composition root (:class:`modelyard.Yard`) satisfies it; the loop never sees the yard
itself, so it cannot reach past what is declared here.
"""

from __future__ import annotations

from typing import Protocol

from ..config import Settings
from ..monitor import Monitor
from ..store import Store
from ..train import Workspace as TrainingWorkspace

__all__ = ["Workspace"]


class Workspace(TrainingWorkspace, Protocol):
    """Datasets, runs and models (as training uses them), and what the loop adds.

    Example:
        >>> from modelyard.loop import Loop
        >>> Loop(yard).run_once()  # a Yard is a Workspace  # doctest: +SKIP
    """

    @property
    def settings(self) -> Settings:
        """The project's settings (its folder, where policies and watched folders are)."""

    @property
    def store(self) -> Store:
        """The metadata store: loop state, audit events, rollouts, the lease."""

    @property
    def monitor(self) -> Monitor:
        """Drift and quality checks and alerts (the loop's triggers)."""
