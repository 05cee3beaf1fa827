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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import InvalidInput
from ..registry import Lineage
from ._holdout import cut_by_user
from ._ranking_spec import RankingSpec, ranking_scores, relevant_items
from ._recommend import PopularityRecommender
from ._result import TrainResult
from ._workspace import Workspace

if TYPE_CHECKING:
    from ._spec import TrainSpec

__all__ = ["train_ranking"]

_Array = np.ndarray[Any, Any]


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


def _metrics(model: Any, users: _Array, relevant: list[set[int]], k: int) -> dict[str, float]:
    if len(users) == 0:
        return {f"precision@{k}": float("nan"), f"recall@{k}": float("nan"),
                f"ndcg@{k}": float("nan")}
    return {name: float(values.mean())
            for name, values in ranking_scores(model.predict(users), relevant, k).items()}


def _fit(model: Any, past: pd.DataFrame, ranking: RankingSpec, target: str) -> Any:
    return model.fit(past[[ranking.user, ranking.item]].to_numpy(dtype=np.int64),
                     sample_weight=past[target].to_numpy(dtype=np.float64))


def train_ranking(workspace: Workspace, spec: TrainSpec, *,
                  aliases: tuple[str, ...]) -> TrainResult:
    """Fit, judge, log and register a recommender as a ranking spec says.

    Returns:
        A :class:`~modelyard.train.TrainResult`.

    Raises:
        InvalidInput: the spec, columns or estimator are wrong.
    """
    from ._estimator import build_estimator

    ranking = spec.ranking
    if ranking is None:
        raise InvalidInput("task 'ranking' needs a [ranking] table with user and item")
    if spec.tune.trials > 0:
        raise InvalidInput("tuning is not offered for ranking specs yet; set [tune] trials = 0 "
                           "and compare settings as separate runs")
    if spec.threshold or spec.cv:
        raise InvalidInput("a ranking spec takes neither evaluation.threshold nor "
                           "evaluation.cv; it is judged on each user's future")
    version = workspace.datasets.get(spec.dataset)
    frame = workspace.datasets.load(version.ref)
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
    past, future, split = cut_by_user(frame, ranking, test_size=spec.test_size, seed=spec.seed)
    users, relevant = relevant_items(past, future, ranking, spec.target)
    if len(users) == 0:
        raise InvalidInput(f"no user of {version.ref} liked a new item in their newest "
                           f"{spec.test_size:.0%} of interactions, so nothing can be judged; "
                           "lower relevant_min or use more data")
    k = ranking.k
    primary = spec.primary_metric or f"ndcg@{k}"
    with workspace.runs.start(spec.run_name or f"train-{spec.model}", experiment=spec.experiment,
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
        lineage = Lineage(task="ranking", target=spec.target, features=(ranking.user,),
                          primary_metric=primary, higher_is_better=True, split=split,
                          spec=spec.to_dict(), ranking=ranking.to_dict())
        registered = workspace.models.register(
            spec.model, model, run_id=run.id, dataset_version=version, input_example=example,
            metrics=metrics, lineage=lineage)
        run.set_tag("model_version", registered.ref)
    for alias in aliases:
        workspace.models.alias(spec.model, alias, registered.version,
                               reason=f"set by training run {run.id}")
    return TrainResult(run_id=run.id, model_version=workspace.models.get(registered.ref),
                       metrics=metrics, task="ranking")
