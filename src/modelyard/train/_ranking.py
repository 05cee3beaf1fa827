"""Training specs with ``task = "ranking"``: top-k recommenders fitted on interactions.

A ranking spec names the user and item columns of the dataset (and, optionally, a time
column) in a ``[ranking]`` table; ``target`` is the interaction's weight (a rating, a count).
Each user's interactions are split in two: the newest ``test_size`` share of them (by the
time column; a seeded random share without one) is the user's future, the rest the past.
The recommender is fitted on the past only and judged on what each user went on to like in
the future (a future interaction of weight at least ``relevant_min``, on an item the user
had not met before): precision@k, recall@k and NDCG@k, next to a popularity baseline fitted
on the same past. The version registered is the one judged, as for supervised specs, so the
loop's gate can score a retrained challenger on the newest data's future without it having
seen those interactions.

Example (TOML)::

    model = "movies"
    dataset = "movies@latest"
    target = "rating"
    task = "ranking"

    [ranking]
    user = "user_id"
    item = "movie_id"
    time = "timestamp"
    k = 10
    relevant_min = 4.0

    [estimator]
    class = "modelyard.train.ImplicitALSRecommender"
    params = { k = 10, factors = 32 }
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import InvalidInput
from ._recommend import PopularityRecommender

if TYPE_CHECKING:
    from .._yard import Yard
    from ._spec import TrainSpec

__all__ = ["RankingSpec", "ranking_holdout", "ranking_scores", "split_by_user",
           "train_ranking"]

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


def _check_columns(frame: pd.DataFrame, spec: TrainSpec, ranking: RankingSpec) -> None:
    wanted = {"user": ranking.user, "item": ranking.item, "target": spec.target}
    if ranking.time:
        wanted["time"] = ranking.time
    missing = [f"{role} {name!r}" for role, name in wanted.items() if name not in frame]
    if missing:
        raise InvalidInput(f"dataset {spec.dataset!r} has no column for {', '.join(missing)}; "
                           f"its columns: {', '.join(map(str, frame.columns))}")
    for role in ("user", "item"):
        column = frame[wanted[role]]
        whole = pd.api.types.is_integer_dtype(column) or (
            pd.api.types.is_float_dtype(column) and bool(np.all(np.mod(column, 1) == 0)))
        if not whole:
            raise InvalidInput(f"the {role} column {wanted[role]!r} must hold integer ids; "
                               "map other ids to integers before ingesting")
    if not pd.api.types.is_numeric_dtype(frame[spec.target]):
        raise InvalidInput(f"the target {spec.target!r} of a ranking spec is the interaction's "
                           "weight and must be numeric (a rating, a count)")


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


def ranking_holdout(frame: pd.DataFrame, ranking: RankingSpec, target: str, share: float,
                    seed: int = 0) -> tuple[_Array, list[set[int]]]:
    """The held-out users and what each went on to like, cut as training cuts them."""
    past, future = split_by_user(frame, ranking, share, seed)
    return relevant_items(past, future, ranking, target)


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


def _metrics(model: Any, users: _Array, relevant: list[set[int]], k: int) -> dict[str, float]:
    if len(users) == 0:
        return {f"precision@{k}": float("nan"), f"recall@{k}": float("nan"),
                f"ndcg@{k}": float("nan")}
    return {name: float(values.mean())
            for name, values in ranking_scores(model.predict(users), relevant, k).items()}


def _fit(model: Any, past: pd.DataFrame, ranking: RankingSpec, target: str) -> Any:
    return model.fit(past[[ranking.user, ranking.item]].to_numpy(dtype=np.int64),
                     sample_weight=past[target].to_numpy(dtype=np.float64))


def train_ranking(yard: Yard, spec: TrainSpec, *, aliases: tuple[str, ...]) -> Any:
    """Fit, judge, log and register a recommender as a ranking spec says.

    Returns:
        A :class:`~modelyard.train.TrainResult`.

    Raises:
        InvalidInput: the spec, columns or estimator are wrong.
    """
    from ._estimator import build_estimator
    from ._train import TrainResult

    ranking = spec.ranking
    if ranking is None:
        raise InvalidInput("task 'ranking' needs a [ranking] table with user and item")
    if spec.tune.trials > 0:
        raise InvalidInput("tuning is not offered for ranking specs yet; set [tune] trials = 0 "
                           "and compare settings as separate runs")
    if spec.threshold or spec.cv:
        raise InvalidInput("a ranking spec takes neither evaluation.threshold nor "
                           "evaluation.cv; it is judged on each user's future")
    version = yard.datasets.get(spec.dataset)
    frame = yard.datasets.load(version.ref)
    _check_columns(frame, spec, ranking)
    frame = frame.dropna(subset=[ranking.user, ranking.item, spec.target])
    estimator = build_estimator(spec.estimator)
    if not hasattr(estimator, "predict") or getattr(estimator, "_estimator_type", "") != "ranker":
        raise InvalidInput(f"the estimator of a ranking spec must be a recommender (e.g. "
                           f"modelyard.train.ImplicitALSRecommender); got "
                           f"{type(estimator).__name__}")
    given = spec.estimator[-1].params.get("k") if spec.estimator[-1].obj is None else None
    if given is not None and given != ranking.k:
        raise InvalidInput(f"the estimator's k ({given}) differs from [ranking] k "
                           f"({ranking.k}); give k once, in [ranking]")
    if "k" in estimator.get_params():
        estimator.set_params(k=ranking.k)
    past, future = split_by_user(frame, ranking, spec.test_size, spec.seed)
    users, relevant = relevant_items(past, future, ranking, spec.target)
    if len(users) == 0:
        raise InvalidInput(f"no user of {version.ref} liked a new item in their newest "
                           f"{spec.test_size:.0%} of interactions, so nothing can be judged; "
                           "lower relevant_min or use more data")
    k = ranking.k
    primary = spec.primary_metric or f"ndcg@{k}"
    with yard.run(spec.run_name or f"train-{spec.model}", experiment=spec.experiment,
                  tags={"model": spec.model, "task": "ranking", **spec.tags}) as run:
        run.log_input(version, role="train")
        run.log_params({
            "estimator": " > ".join(e.cls or type(e.obj).__name__ for e in spec.estimator),
            "dataset": version.ref, "target": spec.target, "user": ranking.user,
            "item": ranking.item, "time": ranking.time or "(random split)", "k": k,
            "relevant_min": "any" if ranking.relevant_min is None else ranking.relevant_min,
            "test_size": spec.test_size, "seed": spec.seed, "primary_metric": primary,
            "test_users": len(users),
            **{f"param.{n}": v for n, v in estimator.get_params().items()},
        })
        run.log_dict(spec.to_dict(), "spec.json")
        baseline = _metrics(_fit(PopularityRecommender(k=k), past, ranking, spec.target),
                            users, relevant, k)
        started = time.perf_counter()
        model = _fit(clone(estimator), past, ranking, spec.target)
        metrics = {"fit_time_s": time.perf_counter() - started,
                   **_metrics(model, users, relevant, k),
                   **{f"baseline.{n}": v for n, v in baseline.items()}}
        if primary not in metrics:
            raise InvalidInput(f"primary_metric {primary!r} is not one of "
                               f"precision@{k}, recall@{k}, ndcg@{k}")
        run.log_metrics(metrics)
        example = pd.DataFrame({ranking.user: past[ranking.user].drop_duplicates().head(20)
                                .to_numpy(dtype=np.int64)})
        registered = yard.models.register(
            spec.model, model, run_id=run.id, dataset_version=version, input_example=example,
            metrics=metrics,
            extra={"task": "ranking", "target": spec.target, "features": [ranking.user],
                   "primary_metric": primary, "higher_is_better": True,
                   "ranking": ranking.to_dict(), "spec": spec.to_dict()})
        run.set_tag("model_version", registered.ref)
    for alias in aliases:
        yard.models.alias(spec.model, alias, registered.version,
                          reason=f"set by training run {run.id}")
    return TrainResult(run_id=run.id, model_version=yard.models.get(registered.ref),
                       metrics=metrics, task="ranking")
