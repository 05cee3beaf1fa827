"""How a recipe chooses its champion without looking at the test set.

The protocol every recipe follows: the test rows are cut off before anything is trained and
kept apart (their own dataset, ``<name>_test``); the candidates are trained on the rest, and
each ``yard.train`` holds a validation part out of that rest (its ``test_size``), on which
the candidates are compared; only the chosen model is then scored on the test rows, once, in
a tracked run of its own. So the published test figure is of exactly the model that serves,
and no choice was made on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..train import evaluate, lower_is_better

if TYPE_CHECKING:
    import pandas as pd

    from ..train import TrainResult
    from ..yard import Yard

__all__ = ["Selection", "choose", "hold_out_test", "score_on_test"]


@dataclass(frozen=True)
class Selection:
    """The candidates' validation scores and the one chosen.

    Attributes:
        metric: what the candidates were compared on.
        validation: each candidate's score on its validation part (cut from training data).
        chosen: the name of the chosen candidate.
    """

    metric: str
    validation: dict[str, float] = field(default_factory=dict)
    chosen: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a recipe's notes."""
        return {"metric": self.metric, "validation": dict(self.validation),
                "chosen": self.chosen, "on": "validation split cut from the training data"}


def hold_out_test(frame: pd.DataFrame, *, target: str, test_size: float = 0.25,
                  seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(development, test)``: the test rows cut off (stratified on ``target``) before any
    training; the development rows are what the candidates train and validate on.

    Example:
        >>> dev, test = hold_out_test(frame, target="bad")  # doctest: +SKIP
    """
    from ..data import split_frame

    counts = frame[target].value_counts()
    stratify = target if len(counts) > 1 and counts.min() >= 2 else None
    dev, test = split_frame(frame, test_size=test_size, seed=seed, stratify=stratify)[:2]
    return dev.reset_index(drop=True), test.reset_index(drop=True)


def choose(candidates: Mapping[str, TrainResult], metric: str) -> Selection:
    """The candidate best on ``metric`` as measured on its validation part (the held-out
    part of its training data, which ``yard.train`` scores): never on the test set.

    Args:
        candidates: the trained candidates by name.
        metric: a metric every candidate has; its direction is known to training.
    """
    scores = {name: float(r.metrics[metric]) for name, r in candidates.items()}
    pick = min if lower_is_better(metric) else max
    chosen = pick(scores, key=lambda name: scores[name])
    return Selection(metric=metric, validation=scores, chosen=chosen)


def score_on_test(yard: Yard, ref: str, test: pd.DataFrame, *, target: str, dataset: str,
                  metrics: Sequence[str] = (), experiment: str = "default",
                  selection: Selection | None = None) -> dict[str, float]:
    """Score the chosen version on the test rows, once, in a tracked run.

    The test rows are stored as the dataset ``dataset`` (its input to the run, role
    ``test``); the run is tagged with the version it scores and logs ``test_<metric>``.

    Args:
        yard: the yard holding the version.
        ref: the chosen version (``fraud/versions/2``).
        test: the test rows, features and ``target``.
        target: the label column.
        dataset: the name the test rows are stored under.
        metrics: the metrics wanted (all of the task's by default).
        experiment: the experiment of the scoring run.
        selection: how the version was chosen, logged with the run.

    Returns:
        The metrics on the test rows (without the ``test_`` prefix).
    """
    stored = yard.datasets.ingest(test, name=dataset,
                                  description="test rows: never trained on, never chosen on")
    predictor = yard.models.load(ref)
    X, y = test.drop(columns=[target]), test[target].to_numpy()
    proba = predictor.predict_proba(X) if predictor.has_predict_proba else None
    scores, _ = evaluate("classification", y, np.asarray(predictor.predict(X)), proba,
                         predictor.classes, tuple(metrics))
    with yard.run(f"test {ref}", experiment=experiment,
                  tags={"scores": ref, "split": "test"}) as run:
        run.log_input(stored, role="test")
        if selection is not None:
            run.log_params({"chosen_on": f"validation {selection.metric}",
                            **{f"validation.{k}": v for k, v in selection.validation.items()}})
        run.log_metrics({f"test_{k}": float(v) for k, v in scores.items()})
    return {k: float(v) for k, v in scores.items()}
