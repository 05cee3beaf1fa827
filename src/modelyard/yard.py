"""The yard: the SDK's entry point, one project's data, runs and models."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings
from .store import GcReport, Store, open_store

if TYPE_CHECKING:
    from .data import Datasets
    from .loop import Loop
    from .monitor import Monitor
    from .registry import Models
    from .tracking import ActiveRun, Runs
    from .train import Executor, ReplayReport, TrainResult, TrainSpec

__all__ = ["Yard", "open"]


class Yard:
    """One project's datasets, runs and models.

    Use :func:`modelyard.open` to get one.

    Attributes:
        settings: the settings in force.
        store: the metadata database and artifact store.
        datasets: ingest, version, validate and split data.
        runs: read, list and delete tracked runs.
        models: register, alias and load model versions.
        monitor: drift, quality, health and alerts of served models.
        loop: retrain on triggers, gate, roll out and promote (see :class:`~modelyard.loop.Loop`).

    Example:
        >>> yard = modelyard.open("/tmp/proj")  # doctest: +SKIP
        >>> with yard.run("baseline") as run:  # doctest: +SKIP
        ...     run.log_metric("loss", 0.3, step=1)
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store = open_store(settings)

    # Each part is built on first use, so a command that lists runs does not import pandas,
    # scikit-learn and SciPy for the parts it never touches.

    @cached_property
    def datasets(self) -> Datasets:
        """Ingest, version, validate and split data."""
        from .data import Datasets

        return Datasets(self.store)

    @cached_property
    def runs(self) -> Runs:
        """Read, list and delete tracked runs."""
        from .tracking import Runs

        return Runs(self.store)

    @cached_property
    def models(self) -> Models:
        """Register, alias and load model versions."""
        from .registry import Models

        return Models(self.store)

    @cached_property
    def monitor(self) -> Monitor:
        """Drift, quality, health and alerts of served models."""
        from .monitor import Monitor

        return Monitor(self.store, self.models, self.settings)

    @cached_property
    def loop(self) -> Loop:
        """The loop that keeps this yard's models healthy (policies, history, passes)."""
        from .loop import Loop

        return Loop(self)

    def run(
        self,
        name: str | None = None,
        *,
        experiment: str = "default",
        parent_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        """Start a tracked run; use it as a context manager. See :meth:`Runs.start`.

        Example:
            >>> with yard.run("baseline", experiment="fraud") as run:  # doctest: +SKIP
            ...     run.log_params({"C": 1.0})
            ...     run.log_metric("loss", 0.25, step=1)
        """
        return self.runs.start(name, experiment=experiment, parent_id=parent_id, tags=tags)

    def train(
        self,
        spec: str | os.PathLike[str] | dict[str, Any] | TrainSpec,
        *,
        tune_trials: int | None = None,
        progress: bool = False,
        aliases: tuple[str, ...] | None = None,
        executor: Executor | None = None,
    ) -> TrainResult:
        """Fit, evaluate, log and register a model from a training spec.

        See :func:`modelyard.train.train` for the arguments; ``executor`` runs tuning trials
        elsewhere (on Ray). The tuning study is kept in memory here; ``modelyard train``
        keeps it beside the metadata database, so that a killed tuning job resumes.

        Example:
            >>> from modelyard.distributed import open_executor  # doctest: +SKIP
            >>> with open_executor("ray") as ray:  # doctest: +SKIP
            ...     yard.train("spec.toml", tune_trials=16, executor=ray)
        """
        from .train import train

        return train(self, spec, tune_trials=tune_trials, progress=progress, aliases=aliases,
                     executor=executor)

    def replay(self, ref: str, *, tolerance: float = 1e-9, keep: bool = False) -> ReplayReport:
        """Rebuild a version from its lineage alone in a fresh run and compare its metrics
        (see :func:`modelyard.train.replay`).

        Example:
            >>> yard.replay("fraud@champion").reproduced  # doctest: +SKIP
            True
        """
        from .train import replay

        return replay(self, ref, tolerance=tolerance, keep=keep)

    def gc(self, *, grace_s: float | None = None, dry_run: bool = False) -> GcReport:
        """Free artifacts that no run, dataset version or model version references."""
        return self.store.gc(grace_s=grace_s, dry_run=dry_run)

    def close(self) -> None:
        """Flush open runs and release the database."""
        if "runs" in self.__dict__:  # built: it may hold open runs
            self.runs.close()
        self.store.close()

    def __enter__(self) -> Yard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Yard({str(self.settings.project_dir)!r})"


def open(
    path: str | os.PathLike[str] | None = None, **overrides: Any
) -> Yard:
    """Open the yard of a project folder, creating its store on first use.

    Args:
        path: the project folder (the current directory by default).
        **overrides: settings that win over the environment and ``modelyard.toml``,
            e.g. ``db_url="postgresql+psycopg://..."``.

    Returns:
        The yard.

    Example:
        >>> yard = modelyard.open()  # doctest: +SKIP
    """
    return Yard(load_settings(path, **overrides))
