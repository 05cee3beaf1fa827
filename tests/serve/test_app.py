"""The app in-process (ASGI, no sockets): mixed-type signatures, regressors, hot swap,
auth off and on, OpenAPI after a swap."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import modelyard
from _serving import in_process
from modelyard.serve import create_app

FRAME = pd.DataFrame({"amount": [1.0, 5.0, 3.0, 9.0, 2.0, 7.0],
                      "country": ["DE", "FR", "DE", "FR", "DE", "FR"],
                      "count": [1, 2, 3, 4, 5, 6]})
LABELS = pd.Series(["ok", "fraud", "ok", "fraud", "ok", "fraud"])


def _classifier() -> Any:
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["country"]),
                                     remainder="passthrough")
    return make_pipeline(encode, LogisticRegression()).fit(FRAME, LABELS)


def test_mixed_types_labels_and_a_regressor(yard: modelyard.Yard) -> None:
    yard.models.register("fraud", _classifier(), input_example=FRAME)
    yard.models.register("price", LinearRegression().fit(FRAME[["amount", "count"]],
                                                         FRAME["amount"] * 2),
                         input_example=FRAME[["amount", "count"]])
    app = create_app(yard, ["fraud", "price"], log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/models/fraud/predict",
                              json=[{"amount": 9.0, "country": "FR", "count": 4},
                                    {"amount": 1.0, "country": "DE", "count": 1}])
        body = r.json()
        assert r.status_code == 200 and body["predictions"] == ["fraud", "ok"]
        assert body["classes"] == ["fraud", "ok"] and len(body["probabilities"][0]) == 2
        r = await client.post("/v1/models/fraud/predict",
                              json={"amount": 1.0, "country": 3, "count": "x"})
        assert r.status_code == 422
        assert {v["column"] for v in r.json()["violations"]} == {"country", "count"}
        r = await client.post("/v1/models/price/predict", json={"amount": 2.0, "count": 1})
        assert r.status_code == 200 and "probabilities" not in r.json()
        assert abs(r.json()["predictions"][0] - 4.0) < 1e-6
        listed = (await client.get("/v1/models")).json()["models"]
        assert [m["ref"] for m in listed] == ["fraud", "price"]

    in_process(app, test)
    from modelyard.monitor import read_prediction_log

    table = read_prediction_log(yard.settings.state_dir / "p", "fraud")
    assert table.column("prediction").to_pylist() == ["fraud", "ok"]
    assert table.column("input.country").to_pylist() == ["FR", "DE"]
    assert "proba.fraud" in table.column_names


def test_hot_swap_and_openapi_follow_the_alias(yard: modelyard.Yard) -> None:
    v1 = yard.models.register("fraud", _classifier(), input_example=FRAME)
    v2 = yard.models.register("fraud", LogisticRegression().fit(FRAME[["amount"]], LABELS),
                              input_example=FRAME[["amount"]])
    yard.models.alias("fraud", "champion", v1.version)
    app = create_app(yard, ["fraud@champion"], settings=yard.settings.replace(
        swap_poll_interval_s=3600.0), log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        path = "/v1/models/fraud@champion/predict"
        record = {"amount": 9.0, "country": "FR", "count": 4}
        assert (await client.post(path, json=record)).json()["version"] == 1
        yard.models.alias("fraud", "champion", v2.version)
        # requests sent while the new version loads are answered by the old one
        pending = [asyncio.ensure_future(client.post(path, json=record)) for _ in range(20)]
        refreshed = await client.post("/v1/admin/refresh")
        assert refreshed.json()["switched"] == ["fraud@champion"]
        assert all(r.status_code == 200 for r in await asyncio.gather(*pending))
        r = await client.post(path, json={"amount": 9.0})
        assert r.status_code == 200 and r.json()["version"] == 2
        spec = (await client.get("/openapi.json")).json()
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert set(body["schema"]["anyOf"][0]["properties"]) == {"amount"}
        text = (await client.get("/metrics")).text
        assert 'modelyard_model_loaded{ref="fraud@champion",version="2"} 1.0' in text

    in_process(app, test)


def test_keys_turn_auth_on(yard: modelyard.Yard) -> None:
    yard.models.register("fraud", _classifier(), input_example=FRAME)
    _, key = yard.store.keys.create("predict")
    app = create_app(yard, ["fraud"], log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        record = {"amount": 9.0, "country": "FR", "count": 4}
        r = await client.post("/v1/models/fraud/predict", json=record)
        assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
        r = await client.post("/v1/models/fraud/predict", json=record,
                              headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200
        assert (await client.get("/v1/models")).status_code == 401
        assert (await client.get("/metrics")).status_code == 200

    in_process(app, test)
