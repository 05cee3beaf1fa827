"""Recommenders: the top-k contract, skops round trip, the "list" signature, the server."""

from __future__ import annotations

import asyncio
import tracemalloc

import httpx
import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.errors import InvalidInput
from modelyard.monitor import read_prediction_log
from modelyard.serve import create_app
from modelyard.train import ImplicitALSRecommender, PopularityRecommender, ranking_metrics

X = np.array([[u, i] for u in range(1, 9) for i in range(10, 16) if (u * i) % 3 != 0])


@pytest.mark.parametrize("cls", [PopularityRecommender, ImplicitALSRecommender])
def test_top_k_excludes_seen_and_falls_back_for_unknown_users(cls: type) -> None:
    with pytest.raises(InvalidInput, match="not fitted"):
        cls(k=3).predict([1])
    model = cls(k=3).fit(X)
    top = model.predict(np.array([[1], [2], [999]]))
    assert top.shape == (3, 3) and top.dtype == np.int64
    seen = {(int(u), int(i)) for u, i in X}
    for user, row in zip([1, 2], top[:2], strict=True):
        assert not any((user, int(i)) in seen for i in row if i >= 0)
    popular = PopularityRecommender(k=3).fit(X).predict([999])[0]
    assert top[2].tolist() == popular.tolist()


def test_predict_for_many_users_holds_one_slice_of_scores_at_a_time() -> None:
    rng = np.random.default_rng(3)
    ratings = np.column_stack([rng.integers(0, 300, 6000), rng.integers(0, 2000, 6000)])
    model = ImplicitALSRecommender(k=5, factors=4, iterations=2).fit(ratings)
    users = np.concatenate([rng.integers(0, 300, 5000), [-1, 10_000]])  # repeats, unknowns
    tracemalloc.start()
    try:
        top = model.predict(users)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # all at once, the scores alone would be 5,002 x 2,000 floats (80 MB), ~240 MB with the
    # sorts; in slices of 1,000 users, ~50 MB
    assert peak < 80e6, peak
    assert top.shape == (5002, 5)
    one_by_one = np.vstack([model.predict([u]) for u in users[:50]])
    assert np.array_equal(top[:50], one_by_one)
    assert np.array_equal(top[-2], PopularityRecommender(k=5).fit(ratings).predict([-1])[0])


def test_ranking_metrics() -> None:
    got = ranking_metrics([[1, 2, 3], [4, 5, 6]], [{1, 9}, {7}], 3)
    assert got["precision@3"] == pytest.approx(1 / 6)
    assert got["recall@3"] == pytest.approx(0.25)
    assert got["ndcg@3"] == pytest.approx((1 / (1 + 1 / np.log2(3))) / 2)


def test_registered_recommender_is_served_as_lists(yard: modelyard.Yard) -> None:
    model = ImplicitALSRecommender(k=2, factors=4, iterations=3).fit(X)
    version = yard.models.register("recs", model,
                                   input_example=pd.DataFrame({"user_id": [1, 2]}))
    assert version.signature["outputs"]["prediction_type"] == "list"
    assert version.signature["outputs"]["task"] == "ranking"
    loaded = yard.models.load("recs")
    assert loaded.predict({"user_id": 1}).tolist() == model.predict([1]).tolist()
    app = create_app(yard, ["recs"], log_root=yard.settings.state_dir / "p")

    async def main() -> None:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            for _ in range(200):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.02)
            r = await client.post("/v1/models/recs/predict",
                                  json=[{"user_id": 1}, {"user_id": 12345}])
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == model.predict([1, 12345]).tolist()
            bad = await client.post("/v1/models/recs/predict", json={"user_id": "x"})
            assert bad.status_code == 422

    asyncio.run(main())
    logged = read_prediction_log(yard.settings.state_dir / "p", "recs").to_pylist()
    assert [r["prediction"] for r in logged] == model.predict([1, 12345]).tolist()
