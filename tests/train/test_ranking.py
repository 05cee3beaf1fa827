"""Ranking specs: recommenders trained, judged on each user's future, registered, and gated
by the loop on per-user NDCG."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.errors import InvalidInput
from modelyard.loop import GatePolicy, run_gate
from modelyard.loop._policy import Policy
from modelyard.loop._retrain import retrain_spec
from modelyard.registry import Lineage
from modelyard.train import RankingSpec, load_spec, split_by_user


def interactions(users: range, seed: int = 0) -> pd.DataFrame:
    """Users in two taste groups (even users like items 0-19, odd ones 20-39), rating in
    time order; a recommender that learns the groups beats popularity."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in users:
        liked = np.arange(0, 20) if user % 2 == 0 else np.arange(20, 40)
        for t, item in enumerate(rng.choice(liked, 12, replace=False)):
            rows.append((user, int(item), float(rng.choice([4.0, 5.0])), 1000 * user + t))
        for t, item in enumerate(rng.choice(np.arange(40, 60), 2, replace=False)):
            rows.append((user, int(item), 1.0, 1000 * user + 50 + t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"])


def spec(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "model": "recs", "dataset": "clicks@latest", "target": "rating", "task": "ranking",
        "ranking": {"user": "user_id", "item": "item_id", "time": "ts", "k": 5,
                    "relevant_min": 4.0},
        "estimator": {"class": "modelyard.train.ImplicitALSRecommender",
                      "params": {"factors": 4, "iterations": 8}},
        "evaluation": {"test_size": 0.25}}
    raw.update(changes)
    return raw


@pytest.mark.parametrize(("change", "message"), [
    ({"ranking": None}, "needs a \\[ranking\\] table"),
    ({"ranking": {"user": "user_id"}}, "needs 'item'"),
    ({"ranking": {"user": "u", "item": "i", "k": 0}}, "k must be a whole number from 1 to 1000"),
    ({"ranking": {"user": "u", "item": "i", "colour": 1}}, "takes only"),
    ({"task": "classification"}, "needs task = \"ranking\""),
])
def test_bad_ranking_specs_are_named(change: dict[str, Any], message: str) -> None:
    raw = spec(**change)
    if raw.get("ranking") is None:
        raw.pop("ranking")
    with pytest.raises(InvalidInput, match=message):
        load_spec(raw)


def test_the_split_keeps_each_users_future_out_of_the_past() -> None:
    frame = interactions(range(10))
    past, future = split_by_user(frame, RankingSpec("user_id", "item_id", "ts"), 0.25)
    assert len(past) + len(future) == len(frame)
    assert (past.groupby("user_id")["ts"].max() < future.groupby("user_id")["ts"].min()).all()


def test_a_ranking_spec_trains_judges_and_registers(yard: modelyard.Yard) -> None:
    yard.datasets.ingest(interactions(range(60)), name="clicks")
    result = yard.train(spec())
    assert result.task == "ranking"
    m = result.metrics
    assert m["ndcg@5"] > m["baseline.ndcg@5"] and 0 < m["precision@5"] <= 1
    version = result.model_version
    assert Lineage.of(version).ranking["user"] == "user_id"
    assert version.signature["outputs"]["prediction_type"] == "list"
    assert [c["name"] for c in version.signature["inputs"]] == ["user_id"]
    top = yard.models.load(version.ref).predict(pd.DataFrame({"user_id": [0, 1, 999]}))
    assert top.shape == (3, 5)
    assert set(top[0]) <= set(range(0, 20)) | set(range(40, 60))  # an even user's taste
    run = yard.runs.get(result.run_id)
    assert run.params["test_users"] == "60"


def test_wrong_columns_and_tuning_are_refused(yard: modelyard.Yard) -> None:
    yard.datasets.ingest(interactions(range(10)), name="clicks")
    with pytest.raises(InvalidInput, match="no column for item 'movie'"):
        yard.train(spec(ranking={"user": "user_id", "item": "movie"}))
    with pytest.raises(InvalidInput, match="tuning is not offered"):
        yard.train(spec(tune={"trials": 3}))
    with pytest.raises(InvalidInput, match="must be a recommender"):
        yard.train(spec(estimator={"class": "sklearn.linear_model.LogisticRegression"}))


def test_the_loop_retrains_a_recommender_and_gates_it_per_user(yard: modelyard.Yard) -> None:
    yard.datasets.ingest(interactions(range(0, 40)), name="clicks")
    champion = yard.train(spec(estimator={"class": "modelyard.train.PopularityRecommender"}),
                          aliases=("champion",)).model_version
    yard.datasets.ingest(interactions(range(0, 80), seed=1), name="clicks")
    raw = retrain_spec(champion, Policy("recs"), "c1")
    assert raw["task"] == "ranking" and raw["ranking"]["item"] == "item_id"
    assert raw["tune"]["trials"] == 0
    same = yard.train(raw).model_version
    assert same.dataset_ref == "clicks@2"
    als = yard.train(spec()).model_version
    verdict = run_gate(yard, champion, als, GatePolicy(bootstrap_samples=200))
    assert verdict.passed, verdict.reason
    assert verdict.metric == "ndcg@5" and verdict.n_rows == 80
    assert verdict.challenger_score > verdict.champion_score
    backwards = run_gate(yard, als, same, GatePolicy(bootstrap_samples=200))
    assert not backwards.passed and "not better" in backwards.reason
