"""Fluent helpers: log to the run active in the current thread, as experiment trackers do.

They let code deep inside a training loop log without passing the run around::

    from modelyard import tracking

    with yard.run("baseline"):
        train()  # which calls tracking.log_metric("loss", loss)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from ._active import ActiveRun, active_run

__all__ = ["log_metric", "log_metrics", "log_param", "log_params", "require_active_run",
           "set_tag"]


def require_active_run() -> ActiveRun:
    """The run active in this thread.

    Raises:
        InvalidInput: no run is active (start one with ``with yard.run(...)``).

    Example:
        >>> with yard.run("x") as run:  # doctest: +SKIP
        ...     assert require_active_run() is run
    """
    run = active_run()
    if run is None:
        raise InvalidInput(
            "no run is active in this thread; wrap the code in `with yard.run(\"name\"):`"
        )
    return run


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric value to the active run. See :meth:`ActiveRun.log_metric`.

    Example:
        >>> log_metric("loss", 0.3)  # doctest: +SKIP
    """
    require_active_run().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metric values to the active run. See :meth:`ActiveRun.log_metrics`.

    Example:
        >>> log_metrics({"loss": 0.3, "acc": 0.9}, step=2)  # doctest: +SKIP
    """
    require_active_run().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    """Log a param to the active run. See :meth:`ActiveRun.log_param`.

    Example:
        >>> log_param("C", 1.0)  # doctest: +SKIP
    """
    require_active_run().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params to the active run. See :meth:`ActiveRun.log_params`.

    Example:
        >>> log_params({"C": 1.0})  # doctest: +SKIP
    """
    require_active_run().log_params(params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run. See :meth:`ActiveRun.set_tag`.

    Example:
        >>> set_tag("stage", "tuning")  # doctest: +SKIP
    """
    require_active_run().set_tag(key, value)
