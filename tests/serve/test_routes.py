"""The service's document (in-process, ASGI); each route's key requirement is in
``test_auth.py``."""

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


def test_feedback_refuses_labels_that_are_not_labels(yard: modelyard.Yard) -> None:
    yard.models.register("fraud", LogisticRegression().fit(FRAME, LABELS),
                         input_example=FRAME)
    app = create_app(yard, ["fraud"], log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        answer = (await client.post("/v1/models/fraud/predict",
                                    json={"amount": 1.0, "count": 1})).json()
        rid = answer["request_id"]
        for label in ["x" * 5000, {"nested": 1}, None, [[1]]]:
            r = await client.post("/v1/models/fraud/feedback",
                                  json={"items": [{"request_id": rid, "label": label}]})
            assert r.status_code == 422 and "label" in r.json()["message"], label
        r = await client.post("/v1/models/fraud/feedback",
                              json={"items": [{"request_id": "a b/../c", "label": 1}]})
        assert r.status_code == 422
        ok = await client.post("/v1/models/fraud/feedback",
                               json={"items": [{"request_id": rid, "label": 1}]})
        assert ok.status_code == 200 and ok.json()["stored"] == 1

    in_process(app, test)
