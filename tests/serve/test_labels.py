"""The bounded memory of a rollout's predictions that feedback is scored against."""

from __future__ import annotations

import numpy as np

from modelyard.serve._labels import RecentPredictions
from modelyard.serve._routing import VersionStats


def test_match_scores_each_version_once_per_row() -> None:
    recent = RecentPredictions()
    recent.remember("a", 1, np.array([0, 1]))
    recent.remember("a", 2, np.array([1, 1]))  # a shadow challenger on the same rows
    assert sorted(recent.match([("a", 1, 1), ("a", 5, 0), ("b", 0, 0)])) == [
        (1, 1, 1), (2, 1, 1)]
    assert list(recent.match([("a", 1, 1)])) == []  # a repeated label is not scored again
    assert sorted(recent.match([("a", 0, 0)])) == [(1, 0, 0), (2, 1, 0)]


def test_a_retry_replaces_and_the_oldest_rows_are_forgotten() -> None:
    recent = RecentPredictions(max_rows=5)
    recent.remember("a", 1, np.array([0, 0]))
    recent.remember("a", 1, np.array([1, 1]))
    assert recent.rows == 2
    recent.remember("b", 1, np.array([0, 0]))
    recent.remember("c", 1, np.array([0, 0]))
    assert recent.rows == 4 and len(recent) == 2
    assert list(recent.match([("a", 0, 1)])) == []
    assert list(recent.match([("c", 1, 0)])) == [(1, 0, 0)]


def test_version_stats_accuracy_and_mae() -> None:
    classifier = VersionStats("champion")
    pairs: list[tuple[object, object]] = [("yes", "yes"), (1, "1"), (0, 1), (1, 1)]
    for prediction, label in pairs:
        classifier.observe_label(prediction, label)
    out = classifier.to_dict()
    assert out["labelled"] == 4 and out["accuracy"] == 0.75 and "mae" not in out
    regressor = VersionStats("challenger")
    regressor.regression = True
    assert regressor.to_dict()["mae"] is None
    scored: list[tuple[object, object]] = [(1.0, 2.0), (3.0, 2.0), (1.0, "n/a")]
    for prediction, label in scored:
        regressor.observe_label(prediction, label)
    out = regressor.to_dict()
    assert out["labelled"] == 2 and out["mae"] == 1.0 and out["accuracy"] is None
