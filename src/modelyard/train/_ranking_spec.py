"""What a ranking spec says and how recommenders are judged: the ``[ranking]`` table, each
user's past and future, and the per-user scores (precision@k, recall@k, NDCG@k)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput

__all__ = ["RankingSpec", "ranking_scores", "relevant_items", "split_by_user"]

_Array = np.ndarray[Any, Any]
_KEYS = {"user", "item", "time", "k", "relevant_min"}


@dataclass(frozen=True)
class RankingSpec:
    """The ``[ranking]`` table of a spec.

    Attributes:
        user: the user id column (the model's one input).
        item: the item id column.
        time: the column that orders each user's interactions; none for a random split.
        k: how many items to recommend and to judge.
        relevant_min: a future interaction counts as liked from this weight on; ``None``
            counts every one.
    """

    user: str
    item: str
    time: str = ""
    k: int = 10
    relevant_min: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)

    @classmethod
    def parse(cls, raw: Any, where: str) -> RankingSpec:
        """Check the ``[ranking]`` table.

        Raises:
            InvalidInput: a missing or unknown key, or a value of the wrong kind, named.
        """
        if not isinstance(raw, dict):
            raise InvalidInput(f"task 'ranking'{where} needs a [ranking] table with user and "
                               "item (the column names), e.g. user = \"user_id\", item = "
                               "\"movie_id\"")
        unknown = set(raw) - _KEYS
        if unknown:
            raise InvalidInput(f"[ranking]{where} takes only: {', '.join(sorted(_KEYS))}; "
                               f"not {', '.join(sorted(unknown))}")
        for key in ("user", "item"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise InvalidInput(f"[ranking]{where} needs '{key}': the name of the "
                                   f"{key} id column")
        if raw["user"] == raw["item"]:
            raise InvalidInput(f"[ranking]{where}: user and item must be different columns")
        k = raw.get("k", 10)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 1000:
            raise InvalidInput(f"[ranking] k{where} must be a whole number from 1 to 1000; "
                               f"got {k!r}")
        relevant = raw.get("relevant_min")
        if relevant is not None and (isinstance(relevant, bool)
                                     or not isinstance(relevant, int | float)):
            raise InvalidInput(f"[ranking] relevant_min{where} must be a number; got "
                               f"{relevant!r}")
        when = raw.get("time", "")
        if not isinstance(when, str):
            raise InvalidInput(f"[ranking] time{where} must be a column name")
        return cls(user=raw["user"], item=raw["item"], time=when, k=k,
                   relevant_min=None if relevant is None else float(relevant))


def split_by_user(frame: pd.DataFrame, ranking: RankingSpec, share: float, seed: int = 0
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's past and future: the newest ``share`` of every user's interactions (by the
    time column, or a seeded random share without one) is the future.

    A single global cut in time would leave few users on both sides when users rate in
    bursts, so the cut is per user (temporal leave-last-out evaluation).
    """
    if ranking.time:
        ordered = frame.sort_values([ranking.user, ranking.time, ranking.item], kind="stable")
    else:
        shuffled = frame.sample(frac=1.0, random_state=seed)
        ordered = shuffled.sort_values(ranking.user, kind="stable")
    rank = ordered.groupby(ranking.user).cumcount()
    size = ordered.groupby(ranking.user)[ranking.item].transform("size")
    future = rank >= np.ceil(size * (1 - share))
    return ordered[~future], ordered[future]


def relevant_items(past: pd.DataFrame, future: pd.DataFrame, ranking: RankingSpec,
                   target: str) -> tuple[_Array, list[set[int]]]:
    """The users of ``future`` met in ``past`` who liked something new, with what they
    liked."""
    liked = future[future[ranking.user].isin(past[ranking.user])]
    if ranking.relevant_min is not None:
        liked = liked[liked[target] >= ranking.relevant_min]
    seen = pd.MultiIndex.from_frame(past[[ranking.user, ranking.item]])
    met = pd.MultiIndex.from_frame(liked[[ranking.user, ranking.item]]).isin(seen)
    liked = liked[~met]
    groups = liked.groupby(ranking.user)[ranking.item]
    users = np.array([user for user, _ in groups], dtype=np.int64)
    return users, [set(np.asarray(items, dtype=np.int64).tolist()) for _, items in groups]


def ranking_scores(recommended: Any, relevant: list[set[int]], k: int) -> dict[str, _Array]:
    """Per user: ``precision@k``, ``recall@k`` and ``ndcg@k`` (binary gains)."""
    top = np.asarray(recommended)[:, :k]
    hits = np.array([[item in rel for item in row] for row, rel in
                     zip(top.tolist(), relevant, strict=True)], dtype=bool).reshape(len(top), -1)
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    ideal = np.array([discounts[:min(len(r), hits.shape[1])].sum() for r in relevant])
    found = hits.sum(axis=1)
    return {f"precision@{k}": found / k,
            f"recall@{k}": found / np.array([max(len(r), 1) for r in relevant]),
            f"ndcg@{k}": np.where(ideal > 0, (hits @ discounts) / np.where(ideal > 0, ideal, 1),
                                  0.0)}
