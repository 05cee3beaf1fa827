"""The typed lineage of a model version: what it was trained to do and on which rows.

Training writes one :class:`Lineage` with every version it registers; the loop's gate, the
monitor and the CLI read it back with :meth:`Lineage.of` instead of picking keys out of the
version's free-form ``extra``. Versions registered before the record existed (flat keys in
``extra``) are read the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..store import ModelVersion

__all__ = ["Lineage", "Split", "holdout_fingerprint"]

LINEAGE_KEY = "lineage"


def holdout_fingerprint(index: Any) -> str:
    """The sha256 of held-out row labels, in order: equal only for the very same rows.

    Example:
        >>> holdout_fingerprint([3, 7, 9])[:12]
        '38c86c1a3f9f'
    """
    labels = np.asarray(index)
    data = (labels.astype(np.int64).tobytes() if labels.dtype.kind in "iu"
            else "\x1f".join(map(str, labels.tolist())).encode())
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Split:
    """How training cut its data into a training part and a held-out part.

    Attributes:
        method: ``random``, ``stratified`` or ``newest_per_user`` (recommenders).
        test_size: the held-out share.
        seed: the seed of the cut.
        stratify: the column whose class shares both parts keep (``stratified``).
        rows: how many rows were cut.
        holdout_sha256: fingerprint of the held-out rows (:func:`holdout_fingerprint`);
            empty for versions registered before it was recorded.
    """

    method: str
    test_size: float
    seed: int
    stratify: str | None = None
    rows: int = 0
    holdout_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the version's metadata."""
        return {"method": self.method, "test_size": self.test_size, "seed": self.seed,
                "stratify": self.stratify, "rows": self.rows,
                "holdout_sha256": self.holdout_sha256}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Split:
        """The split stored by :meth:`to_dict`."""
        stratify = data.get("stratify")
        return cls(method=str(data.get("method", "random")),
                   test_size=float(data.get("test_size", 0.2)), seed=int(data.get("seed", 0)),
                   stratify=None if stratify is None else str(stratify),
                   rows=int(data.get("rows", 0)),
                   holdout_sha256=str(data.get("holdout_sha256", "")))


@dataclass(frozen=True)
class Lineage:
    """What a version was trained to do, on which rows, judged by which metric.

    Attributes:
        task: ``classification``, ``regression`` or ``ranking``.
        target: the target column.
        features: the input columns, in training order.
        primary_metric: the metric training optimised and the gate compares on by default.
        higher_is_better: the direction of ``primary_metric``.
        split: the train/held-out cut (None when unknown).
        spec: the training spec as plain data (what the loop retrains from).
        classes: a classifier's classes, in the order of its probability columns.
        ranking: a recommender's ``[ranking]`` settings.
        threshold: a tuned decision threshold and the metric it was chosen for.

    Example:
        >>> lineage = Lineage.of(yard.models.get("fraud@champion"))  # doctest: +SKIP
        >>> lineage.primary_metric, lineage.higher_is_better  # doctest: +SKIP
        ('roc_auc', True)
    """

    task: str
    target: str
    features: tuple[str, ...]
    primary_metric: str
    higher_is_better: bool
    split: Split | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)
    classes: tuple[Any, ...] = ()
    ranking: Mapping[str, Any] | None = None
    threshold: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the version's metadata."""
        return {"task": self.task, "target": self.target, "features": list(self.features),
                "primary_metric": self.primary_metric,
                "higher_is_better": self.higher_is_better,
                "split": None if self.split is None else self.split.to_dict(),
                "spec": dict(self.spec), "classes": list(self.classes),
                "ranking": None if self.ranking is None else dict(self.ranking),
                "threshold": None if self.threshold is None else dict(self.threshold)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        """The lineage stored by :meth:`to_dict`."""
        split = data.get("split")
        return cls(task=str(data.get("task", "")), target=str(data.get("target", "")),
                   features=tuple(map(str, data.get("features") or ())),
                   primary_metric=str(data.get("primary_metric", "")),
                   higher_is_better=bool(data.get("higher_is_better", True)),
                   split=Split.from_dict(split) if isinstance(split, Mapping) else None,
                   spec=dict(data.get("spec") or {}), classes=tuple(data.get("classes") or ()),
                   ranking=data.get("ranking"), threshold=data.get("threshold"))

    @classmethod
    def find(cls, version: ModelVersion) -> Lineage | None:
        """The lineage of a version, or None when it was registered without one."""
        stored = version.extra.get(LINEAGE_KEY)
        if isinstance(stored, Mapping):
            return cls.from_dict(stored)
        return cls._legacy(version.extra)

    @classmethod
    def of(cls, version: ModelVersion) -> Lineage:
        """The lineage of a version registered by training.

        Raises:
            InvalidInput: the version was registered by hand, without a lineage.
        """
        found = cls.find(version)
        if found is None or not found.target or not found.features:
            raise InvalidInput(f"{version.ref} has no training lineage (target, features, "
                               "split); register it through `modelyard train` or "
                               "yard.train so the loop can judge and retrain it")
        return found

    @classmethod
    def _legacy(cls, extra: Mapping[str, Any]) -> Lineage | None:
        """A lineage from the flat keys versions carried before the record existed."""
        if "target" not in extra and "spec" not in extra:
            return None
        spec = dict(extra.get("spec") or {})
        test_size = float(spec.get("test_size", 0.2))
        seed = int(spec.get("seed", 0))
        task = str(extra.get("task", "classification"))
        return cls(task=task, target=str(extra.get("target") or spec.get("target", "")),
                   features=tuple(map(str, extra.get("features") or ())),
                   primary_metric=str(extra.get("primary_metric", "")),
                   higher_is_better=bool(extra.get("higher_is_better", True)),
                   split=Split(method="newest_per_user" if task == "ranking" else "random",
                               test_size=test_size, seed=seed),
                   spec=spec, ranking=extra.get("ranking"), threshold=extra.get("threshold"))
