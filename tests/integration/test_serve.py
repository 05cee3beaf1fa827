"""A real ``modelyard serve`` process over real HTTP: answers, every bad input, the Python
client, OpenAPI from the signature, metrics and health."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelyard
from _serving import Server, cancer_frame, make_project

pytestmark = pytest.mark.slow

X, _ = cancer_frame()
RECORD: dict[str, Any] = {k: float(v) for k, v in X.iloc[0].items()}
PREDICT = "/v1/models/cancer/predict"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = make_project(tmp_path_factory.mktemp("serve"))
    with Server(project, ["cancer@champion", "cancer/versions/2"],
                {"MODELYARD_MAX_ROWS_PER_REQUEST": "50",
                 "MODELYARD_MAX_BODY_BYTES": "200000"}) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _post(http: httpx.Client, body: Any, path: str = PREDICT) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(path, content=raw, headers={"content-type": "application/json"})


def _violations(response: httpx.Response) -> dict[tuple[str | None, str], dict[str, Any]]:
    body = response.json()
    assert body["error"] == "ValidationFailed", body
    return {(v["column"], v["rule"]): v for v in body["violations"]}


def test_one_record_and_a_list_are_answered(http: httpx.Client) -> None:
    one = _post(http, RECORD)
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["model"] == "cancer" and body["version"] == 1 and body["alias"] == "champion"
    assert len(body["predictions"]) == 1 and body["classes"] == [0, 1]
    assert math.isclose(sum(body["probabilities"][0]), 1.0)
    assert one.headers["x-request-id"] == body["request_id"]
    many = _post(http, [RECORD] * 5).json()
    assert many["predictions"] == body["predictions"] * 5
    assert many["request_id"] != body["request_id"]


def test_each_served_form_of_the_path(http: httpx.Client) -> None:
    assert _post(http, RECORD, "/v1/models/cancer@champion/predict").json()["version"] == 1
    assert _post(http, RECORD, "/v1/models/cancer/versions/2/predict").json()["version"] == 2
    assert _post(http, RECORD, "/v1/models/cancer@2/predict").json()["version"] == 2
    for path in ["/v1/models/cancer@shadow/predict", "/v1/models/fraud/predict",
                 "/v1/models/cancer/versions/9/predict"]:
        r = _post(http, RECORD, path)
        assert r.status_code == 404 and "served: cancer@champion" in r.json()["message"]


def test_missing_unknown_wrong_type_and_nan_are_named(http: httpx.Client) -> None:
    bad = dict(RECORD)
    del bad["mean_texture"]
    bad["colour"] = "red"
    bad["mean_radius"] = "big"
    bad["mean_area"] = None
    bad["mean_perimeter"] = 12345.5
    raw = json.dumps([RECORD, bad]).encode().replace(b"12345.5", b"NaN")
    r = _post(http, raw)
    assert r.status_code == 422
    found = _violations(r)
    assert set(found) == {("mean_texture", "missing_column"), ("colour", "unknown_column"),
                          ("mean_radius", "type"), ("mean_area", "not_null"),
                          ("mean_perimeter", "not_finite")}
    assert all(v["rows"] == [1] for v in found.values())
    for name in ["mean_texture", "colour", "mean_radius", "mean_area", "mean_perimeter"]:
        assert name in r.json()["message"]


@pytest.mark.parametrize("value", [True, "1.5", [1.0], {"x": 1}])
def test_wrong_json_types_are_refused(http: httpx.Client, value: Any) -> None:
    r = _post(http, {**RECORD, "mean_radius": value})
    assert r.status_code == 422 and ("mean_radius", "type") in _violations(r)


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{not json", 422, "InvalidInput"),
    (b"", 422, "InvalidInput"),
    (b"42", 422, "InvalidInput"),
    (b"[]", 422, "InvalidInput"),
    (b"[1, 2]", 422, "ValidationFailed"),
    (b"[" + b"1," * 150_000 + b"1]", 413, "PayloadTooLarge"),
])
def test_bodies_that_are_not_records(http: httpx.Client, body: bytes, status: int,
                                     error: str) -> None:
    r = _post(http, body)
    assert r.status_code == status and r.json()["error"] == error, r.text


def test_an_oversized_batch_is_413(http: httpx.Client) -> None:
    r = _post(http, [RECORD] * 51)
    assert r.status_code == 413 and "50 records" in r.json()["message"]


def test_a_chunked_oversized_body_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for _ in range(300):
            yield json.dumps(RECORD).encode() + b","
        yield b"{}]"

    r = http.post(PREDICT, content=chunks())
    assert r.status_code == 413


def test_no_input_is_ever_a_500(http: httpx.Client) -> None:
    bodies: list[bytes] = [b"null", b"true", b'"x"', b"[[]]", b"[{}]", b"{}", b"[null]",
                           json.dumps({**RECORD, "mean_radius": 1e400}).encode(),
                           json.dumps({**RECORD, "mean_radius": -1e308}).encode(),
                           b'{"mean_radius": ' + b"9" * 5000 + b"}", b"\xff\xfe", b"[" * 5000]
    for body in bodies:
        r = _post(http, body)
        assert 400 <= r.status_code < 500 or r.status_code == 200, (body[:40], r.text)


def test_concurrent_callers_each_get_their_own_rows(http: httpx.Client, server: Server) -> None:
    rows = [{k: float(v) for k, v in X.iloc[i].items()} for i in range(40)]
    with modelyard.Client(server.url) as client:
        expected = client.predict("cancer", rows).probabilities
        assert expected is not None

        def one(i: int) -> tuple[int, list[float]]:
            answer = client.predict("cancer", rows[i])
            assert answer.probabilities is not None
            return i, answer.probabilities[0]

        with ThreadPoolExecutor(16) as pool:
            for i, proba in pool.map(one, range(40)):
                assert proba == pytest.approx(expected[i])


def test_the_client(server: Server) -> None:
    with modelyard.Client(server.url) as client:
        answer = client.predict("cancer@champion", X.head(3))
        assert answer.version == 1 and len(answer.predictions) == 3
        assert answer.classes == [0, 1]
        pinned = client.predict("cancer/versions/2", X.head(2), request_id="mine-1")
        assert pinned.version == 2 and pinned.request_id == "mine-1"
        with pytest.raises(modelyard.ValidationFailed) as err:
            client.predict("cancer", [{"mean_radius": 1.0}])
        assert {v["column"] for v in err.value.violations} >= {"mean_texture"}
        with pytest.raises(modelyard.NotFound):
            client.predict("fraud", RECORD)
        assert client.feedback("cancer", answer.request_id, [0, 1, 1]) == 3
        assert [m["ref"] for m in client.models()] == ["cancer@champion", "cancer/versions/2"]
        assert client.ready()
    with pytest.raises(modelyard.StorageUnavailable), modelyard.Client(
            "http://127.0.0.1:9", timeout=1) as nowhere:
        nowhere.predict("cancer", RECORD)


def test_openapi_shows_each_models_fields(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    body = spec["paths"]["/v1/models/cancer@champion/predict"]["post"]["requestBody"]
    record = body["content"]["application/json"]["schema"]["anyOf"][0]
    assert record["properties"]["mean_radius"]["type"] == "number"
    assert len(record["required"]) == 30 and record["additionalProperties"] is False
    assert "/v1/models/cancer/versions/2/predict" in spec["paths"]


def test_health_ready_and_metrics(http: httpx.Client) -> None:
    assert http.get("/health").json()["status"] == "alive"
    ready = http.get("/ready").json()
    assert ready["ready"] and [m["version"] for m in ready["models"]] == [1, 2]
    _post(http, RECORD)
    _post(http, {"nope": 1})
    text = http.get("/metrics").text
    assert 'modelyard_requests_total{model="cancer",status="200",version="1"}' in text
    assert 'modelyard_errors_total{error="ValidationFailed",model="cancer",status="422"}' in text
    assert "modelyard_request_latency_seconds_bucket" in text
    assert 'modelyard_batch_size_bucket{le="1.0",model="cancer",version="1"}' in text
    assert 'modelyard_prediction_log_rows_total{outcome="dropped"} 0.0' in text
    r = http.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"] == "NotFound"


def test_feedback_is_stored(http: httpx.Client, server: Server, tmp_path: Path) -> None:
    X, _ = cancer_frame()
    rid = http.post("/v1/models/cancer/predict",
                    json=X.head(2).to_dict(orient="records")).json()["request_id"]
    r = http.post("/v1/models/cancer/feedback",
                  json={"items": [{"request_id": rid, "label": 1}, {"request_id": rid,
                                                                   "row": 1, "label": 0}]})
    assert r.status_code == 200 and r.json()["stored"] == 2
    never = http.post("/v1/models/cancer/feedback",
                      json={"items": [{"request_id": "r-1", "label": 1}]})
    assert never.status_code == 422 and "never answered" in never.json()["message"]
    bad = http.post("/v1/models/cancer/feedback", json={"items": [{"label": 1, "row": -1}]})
    assert bad.status_code == 422
    assert {v["column"] for v in bad.json()["violations"]} == {"items.0.request_id",
                                                              "items.0.row"}
