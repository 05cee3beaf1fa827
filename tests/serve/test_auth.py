"""The role matrix, table-driven: every route against every key role and scope; auth that
fails closed once keys were used; per-key rate limits (in-process, ASGI)."""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.serve import create_app

FRAME = pd.DataFrame({"amount": [1.0, 5.0, 3.0, 9.0], "count": [1, 2, 3, 4]})
LABELS = pd.Series([0, 1, 0, 1])
BODY = {"amount": 1.0, "count": 1}

# (method, path, the role it needs, whether it spans every model); None: open to all
ROUTES: list[tuple[str, str, str | None, bool]] = [
    ("GET", "/health", None, False),
    ("GET", "/ready", None, False),
    ("GET", "/metrics", None, False),
    ("GET", "/v1/models", "any", False),
    ("POST", "/v1/models/fraud/predict", "predict", False),
    ("POST", "/v1/models/fraud@1/predict", "predict", False),
    ("POST", "/v1/models/fraud/versions/1/predict", "predict", False),
    ("POST", "/v1/models/fraud/feedback", "predict", False),
    ("GET", "/v1/models/fraud/stats", "read", False),
    ("GET", "/v1/models/fraud/loop/history", "read", False),
    ("GET", "/v1/loop/status", "read", True),
    ("GET", "/v1/models/fraud/monitor/live", "read", False),
    ("GET", "/v1/models/fraud/monitor", "read", False),
    ("GET", "/v1/models/fraud/alerts", "read", False),
    ("GET", "/v1/models/fraud/monitor/report.html", "read", False),
    ("POST", "/v1/models/fraud/monitor", "deploy", False),
    ("POST", "/v1/admin/refresh", "deploy", True),
]
# which key roles each need admits: the matrix the service must follow
MATRIX = {"any": {"read", "predict", "deploy", "admin"}, "read": {"read", "deploy", "admin"},
          "predict": {"predict", "admin"}, "deploy": {"deploy", "admin"}, "admin": {"admin"}}
ROLES = ("read", "predict", "deploy", "admin")


@pytest.fixture(autouse=True)
def _model(yard: modelyard.Yard) -> None:
    yard.models.register("fraud", LogisticRegression().fit(FRAME, LABELS),
                         input_example=FRAME)


def _app(yard: modelyard.Yard) -> Any:
    """The app, made after the test's keys (a running one picks up keys within a poll)."""
    return create_app(yard, ["fraud"], log_root=yard.settings.state_dir / "p")


async def _call(client: httpx.AsyncClient, method: str, path: str,
                key: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    json = {"items": [{"request_id": "x", "label": 1}]} if path.endswith("feedback") else BODY
    return await client.request(method, path, json=None if method == "GET" else json,
                                headers=headers)


def test_every_route_answers_by_the_role_matrix(yard: modelyard.Yard) -> None:
    keys = {role: yard.store.keys.create(role)[1] for role in ROLES}
    other = {role: yard.store.keys.create(role, scope="other*")[1] for role in ROLES}
    fraud_only = yard.store.keys.create("admin", scope="fraud")[1]
    app = _app(yard)

    async def test(client: httpx.AsyncClient) -> None:
        for method, path, need, every in ROUTES:
            anonymous = await _call(client, method, path, None)
            if need is None:
                assert anonymous.status_code == 200, path
                continue
            assert anonymous.status_code == 401, path
            assert anonymous.json()["error"] == "Unauthorized"
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            for role in ROLES:
                r = await _call(client, method, path, keys[role])
                if role in MATRIX[need]:
                    assert r.status_code not in (401, 403), (path, role, r.text)
                else:
                    assert r.status_code == 403, (path, role, r.status_code)
                    assert r.json()["error"] == "Forbidden" and role in r.json()["message"]
                scoped = await _call(client, method, path, other[role])
                if role in MATRIX[need] and (every or need == "any"):
                    # out of scope: a route spanning every model refuses it; listing filters
                    assert scoped.status_code == (200 if need == "any" else 403), (path, role)
                else:
                    assert scoped.status_code == 403, (path, role, scoped.status_code)
            r = await _call(client, method, path, fraud_only)
            assert r.status_code == (403 if every else r.status_code), path
            assert r.status_code not in (401, 403) or every, (path, r.text)
        listed = (await client.get("/v1/models", headers={
            "authorization": f"Bearer {other['read']}"})).json()["models"]
        assert listed == []
        # /ready tells an anonymous caller nothing of a model's inputs
        ready = (await client.get("/ready")).json()
        assert "inputs" not in ready["models"][0] and ready["models"][0]["version"] == 1

    in_process(app, test)


def test_revoking_every_key_closes_the_service(yard: modelyard.Yard) -> None:
    record, key = yard.store.keys.create("admin")
    app = _app(yard)
    state = app.state.modelyard

    async def test(client: httpx.AsyncClient) -> None:
        assert (await _call(client, "POST", "/v1/models/fraud/predict", key)).status_code == 200
        yard.store.keys.revoke(record.id)
        await state.refresh()
        assert yard.store.keys.auth_required() and yard.store.keys.count_active() == 0
        for method, path, need, _ in ROUTES:
            r = await _call(client, method, path, None)
            if need is None:
                assert r.status_code == 200, path
            else:
                assert r.status_code == 401, path
                assert "every API key of this project is revoked" in r.json()["message"]
        _, fresh = yard.store.keys.create("predict")
        await state.refresh()
        assert (await _call(client, "POST", "/v1/models/fraud/predict",
                            fresh)).status_code == 200

    in_process(app, test)


def test_a_project_that_never_had_a_key_is_open(yard: modelyard.Yard) -> None:
    app = _app(yard)

    async def test(client: httpx.AsyncClient) -> None:
        for method, path, _, _ in ROUTES:
            r = await _call(client, method, path, None)
            assert r.status_code not in (401, 403), path

    in_process(app, test)


def test_a_key_over_its_rate_gets_429_with_retry_after(yard: modelyard.Yard) -> None:
    _, slow = yard.store.keys.create("predict", rate_per_s=2)
    _, free = yard.store.keys.create("predict")
    app = _app(yard)

    async def test(client: httpx.AsyncClient) -> None:
        statuses = [(await _call(client, "POST", "/v1/models/fraud/predict", slow)).status_code
                    for _ in range(5)]
        assert statuses[:2] == [200, 200] and 429 in statuses
        r = await _call(client, "POST", "/v1/models/fraud/predict", slow)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "2 requests per second" in r.json()["message"]
        # another key is not slowed by it
        for _ in range(5):
            assert (await _call(client, "POST", "/v1/models/fraud/predict",
                                free)).status_code == 200

    in_process(app, test)


def test_a_wrong_method_names_the_allowed_ones(yard: modelyard.Yard) -> None:
    app = _app(yard)

    async def test(client: httpx.AsyncClient) -> None:
        r = await client.delete("/v1/models/fraud/monitor")
        assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
        assert "GET, POST" in r.json()["message"]
        r = await client.get("/v1/models/fraud/predict")
        assert r.status_code == 405 and r.headers["allow"] == "POST"

    in_process(app, test)


@pytest.mark.parametrize(("scope", "rate"), [("", None), ("a,,b", None), ("*", 0.0),
                                             ("*", float("inf"))])
def test_bad_scopes_and_rates_are_refused(yard: modelyard.Yard, scope: str,
                                          rate: float | None) -> None:
    with pytest.raises(modelyard.InvalidInput):
        yard.store.keys.create("read", scope=scope, rate_per_s=rate)
