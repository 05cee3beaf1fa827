"""Feedback is checked against what the service answered: a label for a request id it never
answered (or a row the request did not have) is refused with 422 and nothing is stored; a
label for a request answered before a restart is found in the prediction log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.serve import create_app

FRAME = pd.DataFrame({"amount": [1.0, 5.0, 3.0, 9.0], "count": [1, 2, 3, 4]})
LABELS = pd.Series([0, 1, 0, 1])
ROWS = [{"amount": 1.0, "count": 1}, {"amount": 9.0, "count": 4}, {"amount": 2.0, "count": 2}]


def _feedback(items: list[dict[str, object]]) -> dict[str, object]:
    return {"items": items}


def test_feedback_for_requests_never_answered_is_refused_and_not_stored(
        yard: modelyard.Yard, tmp_path: Path) -> None:
    yard.models.register("fraud", LogisticRegression().fit(FRAME, LABELS),
                         input_example=FRAME)
    root = tmp_path / "predictions"
    answered: list[str] = []

    async def first(client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/models/fraud/predict", json=ROWS)
        rid = r.json()["request_id"]
        answered.append(rid)
        ok = await client.post("/v1/models/fraud/feedback", json=_feedback(
            [{"request_id": rid, "row": n, "label": n % 2} for n in range(3)]))
        assert ok.status_code == 200 and ok.json()["stored"] == 3, ok.text
        for items, column in [
            ([{"request_id": "never-answered", "label": 1}], "items.0.request_id"),
            ([{"request_id": rid, "row": 3, "label": 1}], "items.0.row"),
            # one bad item refuses the whole request: nothing of it is stored
            ([{"request_id": rid, "row": 0, "label": 1},
              {"request_id": "forged-1", "label": 0}], "items.1.request_id"),
        ]:
            r = await client.post("/v1/models/fraud/feedback", json=_feedback(items))
            assert r.status_code == 422, r.text
            body = r.json()
            assert body["error"] == "ValidationFailed"
            assert [v["column"] for v in body["violations"]] == [column]
            assert "nothing was stored" in body["message"]
        r = await client.post("/v1/models/fraud/feedback",
                              json=_feedback([{"request_id": "never-answered", "label": 1}]))
        assert "request 'never-answered' was never answered for 'fraud'" in r.json()["message"]
        assert "had 3 rows, not row 3" in (await client.post(
            "/v1/models/fraud/feedback", json=_feedback(
                [{"request_id": rid, "row": 3, "label": 1}]))).json()["message"]

    in_process(create_app(yard, ["fraud"], log_root=root), first)
    assert len(yard.store.feedback.list("fraud")) == 3

    async def after_restart(client: httpx.AsyncClient) -> None:
        # a new process remembers nothing: the answer is found in the prediction log
        r = await client.post("/v1/models/fraud/feedback", json=_feedback(
            [{"request_id": answered[0], "row": 2, "label": 1}]))
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
        r = await client.post("/v1/models/fraud/feedback",
                              json=_feedback([{"request_id": "never-answered", "label": 1}]))
        assert r.status_code == 422

    in_process(create_app(yard, ["fraud"], log_root=root), after_restart)
    assert len(yard.store.feedback.list("fraud")) == 4


def test_a_server_that_logs_nothing_refuses_feedback(tmp_path: Path) -> None:
    with modelyard.open(tmp_path, log_predictions=False) as yard:
        yard.models.register("fraud", LogisticRegression().fit(FRAME, LABELS),
                             input_example=FRAME)

        async def test(client: httpx.AsyncClient) -> None:
            rid = (await client.post("/v1/models/fraud/predict", json=ROWS)).json()[
                "request_id"]
            r = await client.post("/v1/models/fraud/feedback",
                                  json=_feedback([{"request_id": rid, "label": 1}]))
            assert r.status_code == 409 and "log_predictions is off" in r.json()["message"]

        in_process(create_app(yard, ["fraud"], log_root=tmp_path / "p"), test)
        assert yard.store.feedback.list("fraud") == []
