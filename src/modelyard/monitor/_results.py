"""What monitoring found in one window: the window's result and each version's in it.

These are the frozen records a monitoring pass produces, the alert rules read and the
store keeps as JSON (``monitor_windows.result_json``); they depend on no other part of
the monitoring pass, so every module above them may use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._drift import DataDrift
from ._health import Health
from ._performance import Performance

__all__ = ["VersionResult", "WindowResult"]


@dataclass(frozen=True)
class VersionResult:
    """What one model version predicted in a window, against its own reference.

    Attributes:
        version: the version number.
        served: rows it answered (canary rows included).
        shadow: rows it predicted in shadow, beside the version that answered.
        reference: what its predictions were compared with (its reference profile's
            source), or why with nothing.
        prediction_drift: its predicted class/value and score against its reference's.
        performance: quality of its labelled predictions, against its registered metrics.

    Example:
        >>> window.by_version["1"].prediction_drift["prediction"].psi  # doctest: +SKIP
        0.41
    """

    version: int
    served: int
    shadow: int
    reference: str
    prediction_drift: DataDrift
    performance: Performance

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (inside the window's)."""
        return {"version": self.version, "served": self.served, "shadow": self.shadow,
                "reference": self.reference,
                "prediction_drift": self.prediction_drift.to_dict(),
                "performance": self.performance.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionResult:
        """Read the JSON form back."""
        return cls(version=int(data["version"]), served=int(data.get("served", 0)),
                   shadow=int(data.get("shadow", 0)), reference=str(data.get("reference", "")),
                   prediction_drift=DataDrift.from_dict(data["prediction_drift"]),
                   performance=Performance.from_dict(data["performance"]))


@dataclass(frozen=True)
class WindowResult:
    """Everything monitoring found in one window.

    A window may hold rows of several versions (the old champion's and the new one's after a
    promotion; a challenger's canary or shadow rows during a rollout). Each version's
    predictions are compared with that version's own reference (``by_version``); the
    window's ``prediction_drift`` and ``performance``, which the alert rules read, are the
    reference version's. Input drift and health cover every served row; shadow rows are
    not served traffic and count only in their version's entry.

    Attributes:
        model: the model name.
        window: how windows were cut: ``hourly``, ``daily`` or ``last:N``.
        start: the window's start (epoch seconds, inclusive).
        end: its end (exclusive; for ``last:N`` the newest prediction's time).
        complete: whether the window had ended when it was evaluated.
        versions: served predictions per model version that answered.
        reference: what the window was compared with.
        drift: input drift per feature, over every served row.
        prediction_drift: drift of the reference version's predicted class/value and score.
        performance: quality on the reference version's labelled predictions.
        health: request rate, latency and errors of the served rows.
        alerts_evaluated: whether alert rules were applied to it.
        reference_version: the version whose rows ``prediction_drift`` and ``performance``
            describe (``None`` in windows stored before versions were told apart).
        by_version: every version that predicted in the window, by number as text.
    """

    model: str
    window: str
    start: float
    end: float
    complete: bool
    versions: dict[str, int]
    reference: str
    drift: DataDrift
    prediction_drift: DataDrift
    performance: Performance
    health: Health
    alerts_evaluated: bool = False
    reference_version: int | None = None
    by_version: dict[str, VersionResult] = field(default_factory=dict)

    @property
    def n_predictions(self) -> int:
        """Predicted rows in the window."""
        return self.health.rows

    @property
    def version(self) -> int | None:
        """The version that answered most of the window's predictions."""
        if not self.versions:
            return None
        return int(max(self.versions.items(), key=lambda kv: kv[1])[0])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``monitor_windows.result_json``."""
        return {"model": self.model, "window": self.window, "start": self.start,
                "end": self.end, "complete": self.complete, "versions": self.versions,
                "reference": self.reference, "drift": self.drift.to_dict(),
                "prediction_drift": self.prediction_drift.to_dict(),
                "performance": self.performance.to_dict(), "health": self.health.to_dict(),
                "alerts_evaluated": self.alerts_evaluated,
                "reference_version": self.reference_version,
                "by_version": {k: v.to_dict() for k, v in self.by_version.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowResult:
        """Read the JSON form back (windows stored before ``by_version`` existed too)."""
        reference_version = data.get("reference_version")
        return cls(model=data["model"], window=data["window"], start=float(data["start"]),
                   end=float(data["end"]), complete=bool(data["complete"]),
                   versions={str(k): int(v) for k, v in data.get("versions", {}).items()},
                   reference=str(data.get("reference", "")),
                   drift=DataDrift.from_dict(data["drift"]),
                   prediction_drift=DataDrift.from_dict(data["prediction_drift"]),
                   performance=Performance.from_dict(data["performance"]),
                   health=Health.from_dict(data["health"]),
                   alerts_evaluated=bool(data.get("alerts_evaluated", False)),
                   reference_version=None if reference_version is None
                   else int(reference_version),
                   by_version={str(k): VersionResult.from_dict(v)
                               for k, v in (data.get("by_version") or {}).items()})
