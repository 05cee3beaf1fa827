"""The train/held-out cut: made once by training, recorded, and made again only as recorded.

Training cuts with :func:`cut` (or :func:`cut_by_user` for recommenders) and registers the
resulting :class:`~modelyard.registry.Split` in the version's lineage. Whoever needs the same
held-out rows later (the loop's gate) calls :func:`held_out`, which cuts the dataset version
again with the recorded method, size and seed and checks the rows' fingerprint, so a gate
can never score a challenger on rows it was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data import split_frame
from ..errors import Conflict, InvalidInput
from ..registry import Lineage, Split, holdout_fingerprint
from ._ranking_spec import RankingSpec, split_by_user

__all__ = ["cut", "cut_by_user", "held_out", "held_out_by_user"]


def _stratify(task: str, y: pd.Series[Any], target: str) -> str | None:
    """Classes keep their shares in both parts when every class has two rows or more."""
    return target if task == "classification" and y.value_counts().min() >= 2 else None


def _fingerprint(index: pd.Index[Any]) -> str:
    return holdout_fingerprint(np.sort(np.asarray(index)))


def cut(frame: pd.DataFrame, *, target: str, features: list[str], task: str,
        test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Split]:
    """Split rows with a target into a training and a held-out part, and record how.

    Returns:
        ``(train, held_out, split)``: both parts hold ``features`` and ``target``.
    """
    stratify = _stratify(task, frame[target], target)
    train_df, test_df = split_frame(frame[[*features, target]], test_size=test_size,
                                    seed=seed, stratify=stratify)
    split = Split(method="stratified" if stratify else "random", test_size=test_size,
                  seed=seed, stratify=stratify, rows=len(frame),
                  holdout_sha256=_fingerprint(test_df.index))
    return train_df, test_df, split


def cut_by_user(frame: pd.DataFrame, ranking: RankingSpec, *, test_size: float,
                seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Split]:
    """Each user's past and future (see ``split_by_user``), and the record of the cut."""
    past, future = split_by_user(frame, ranking, test_size, seed)
    split = Split(method="newest_per_user", test_size=test_size, seed=seed, rows=len(frame),
                  holdout_sha256=_fingerprint(future.index))
    return past, future, split


def _check(split: Split, got: pd.Index[Any], rows: int, what: str) -> None:
    if split.holdout_sha256 and _fingerprint(got) != split.holdout_sha256:
        raise Conflict(
            f"the held-out rows of {what} are not the ones its training held out ({rows} rows "
            f"now, {split.rows} then); the dataset version or the split code changed, so "
            "judging on them could score rows the model was trained on. Retrain it, or "
            "compare on another dataset version")


def _recorded(lineage: Lineage, what: str) -> Split:
    if lineage.split is None:
        raise InvalidInput(f"{what} has no recorded split; retrain it with `modelyard train`")
    return lineage.split


def held_out(frame: pd.DataFrame, lineage: Lineage, *, what: str) -> pd.DataFrame:
    """The held-out rows of ``frame`` exactly as the version's training cut them.

    Args:
        frame: the version's training dataset, as loaded.
        lineage: the version's lineage.
        what: the version's reference, for messages.

    Raises:
        InvalidInput: the lineage lacks the split; Conflict: the rows differ from those
            training held out.
    """
    split = _recorded(lineage, what)
    frame = frame.dropna(subset=[lineage.target])
    features = list(lineage.features)
    missing = [c for c in [*features, lineage.target] if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{what} was trained on columns its dataset no longer has: "
                           f"{', '.join(missing)}")
    if split.holdout_sha256:
        stratify = split.stratify
    else:  # recorded before the split itself was: the rule training applied then
        stratify = _stratify(lineage.task, frame[lineage.target], lineage.target)
    _, test = split_frame(frame[[*features, lineage.target]], test_size=split.test_size,
                          seed=split.seed, stratify=stratify)
    _check(split, test.index, len(frame), what)
    return test


def held_out_by_user(frame: pd.DataFrame, lineage: Lineage, ranking: RankingSpec, *,
                     what: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A recommender's past and held-out future, exactly as its training cut them.

    Raises:
        InvalidInput: the lineage lacks the split; Conflict: the rows differ from those
            training held out.
    """
    split = _recorded(lineage, what)
    frame = frame.dropna(subset=[ranking.user, ranking.item, lineage.target])
    past, future = split_by_user(frame, ranking, split.test_size, split.seed)
    _check(split, future.index, len(frame), what)
    return past, future
