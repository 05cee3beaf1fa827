"""What one training produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import ModelVersion

__all__ = ["TrainResult"]


@dataclass(frozen=True)
class TrainResult:
    """What a training produced.

    Attributes:
        run_id: the tracked run.
        model_version: the registered version.
        metrics: test-set metrics (and ``cv_<metric>_mean``/``_std`` when cross-validated).
        best_params: the tuned parameters, empty when not tuned.
        task: ``classification``, ``regression`` or ``ranking``.
    """

    run_id: str
    model_version: ModelVersion
    metrics: dict[str, float]
    best_params: dict[str, Any] = field(default_factory=dict)
    task: str = ""

    @property
    def ref(self) -> str:
        """The registered version's reference, ``name/versions/N``."""
        return self.model_version.ref
