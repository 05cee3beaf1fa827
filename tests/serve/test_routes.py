"""Each route group's key requirement, and the service's document (in-process, ASGI)."""

from __future__ import annotations

import importlib.metadata

import httpx
import pandas as pd
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.serve import create_app

FRAME = pd.DataFrame({"amount": [1.0, 5.0, 3.0, 9.0], "count": [1, 2, 3, 4]})
LABELS = pd.Series([0, 1, 0, 1])

OPEN = [("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics")]
PREDICT = [("GET", "/v1/models"), ("POST", "/v1/models/fraud/feedback"),
           ("POST", "/v1/models/fraud/predict"), ("POST", "/v1/models/fraud@1/predict"),
           ("POST", "/v1/models/fraud/versions/1/predict")]
ADMIN = [("POST", "/v1/admin/refresh"), ("GET", "/v1/models/fraud/stats"),
         ("GET", "/v1/models/fraud/loop/history"), ("GET", "/v1/loop/status"),
         ("GET", "/v1/models/fraud/monitor/live"), ("GET", "/v1/models/fraud/monitor"),
         ("POST", "/v1/models/fraud/monitor"), ("GET", "/v1/models/fraud/alerts"),
         ("GET", "/v1/models/fraud/monitor/report.html")]


def test_every_route_group_checks_its_role(yard: modelyard.Yard) -> None:
    yard.models.register("fraud", LogisticRegression().fit(FRAME, LABELS),
                         input_example=FRAME)
    _, predict_key = yard.store.keys.create("predict")
    app = create_app(yard, ["fraud"], log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        predict = {"authorization": f"Bearer {predict_key}"}
        for method, path in OPEN:
            assert (await client.request(method, path)).status_code == 200, path
        for method, path in PREDICT + ADMIN:
            r = await client.request(method, path, json={"amount": 1.0, "count": 1})
            assert r.status_code == 401 and r.json()["error"] == "Unauthorized", path
        for method, path in ADMIN:
            r = await client.request(method, path, headers=predict)
            assert r.status_code == 401, path
        r = await client.post("/v1/models/fraud/predict", headers=predict,
                              json={"amount": 1.0, "count": 1})
        assert r.status_code == 200
        assert (await client.get("/v1/models", headers=predict)).status_code == 200
        # refused predictions count as errors, as any other failed prediction
        text = (await client.get("/metrics")).text
        assert 'error="Unauthorized"' in text

    in_process(app, test)


def test_the_document_names_the_installed_version(yard: modelyard.Yard) -> None:
    yard.models.register("fraud", LogisticRegression().fit(FRAME, LABELS),
                         input_example=FRAME)
    app = create_app(yard, ["fraud"], log_root=yard.settings.state_dir / "p")
    spec = app.openapi()
    assert spec["info"]["version"] == importlib.metadata.version("modelyard")
    assert spec["info"]["version"] == modelyard.__version__
    operation = spec["paths"]["/v1/models/fraud/predict"]["post"]
    assert operation["operationId"] == "predict_fraud" and "requestBody" not in operation

    async def test(client: httpx.AsyncClient) -> None:
        # once loaded, the served reference's own route shows its version's fields
        spec = (await client.get("/openapi.json")).json()
        body = spec["paths"]["/v1/models/fraud/predict"]["post"]["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        assert set(schema["anyOf"][0]["properties"]) == {"amount", "count"}

    in_process(app, test)
