"""The predict hot path answered straight from ASGI (``serve._asgi``): the same answers as the
FastAPI routes it stands in for, and metrics that count every request it answered."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.serve import create_app
from modelyard.serve._asgi import predict_ref

FRAME = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
LABELS = [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize(("path", "ref"), [
    ("/v1/models/fraud/predict", "fraud"),
    ("/v1/models/fraud@champion/predict", "fraud@champion"),
    ("/v1/models/fraud/versions/007/predict", "fraud/versions/7"),
    ("/v1/models/fraud/versions/x/predict", None),  # FastAPI answers it (422)
    ("/v1/models/fraud/versions//predict", None),
    ("/v1/models//predict", None),
    ("/v1/models/a/b/predict", None),
    ("/v1/models/fraud/stats", None),
    ("/health", None),
])
def test_predict_paths_are_recognised(path: str, ref: str | None) -> None:
    assert predict_ref(path) == ref


def test_hot_path_answers_like_the_routes(yard: modelyard.Yard) -> None:
    model = LogisticRegression().fit(FRAME, LABELS)
    v = yard.models.register("m", model, input_example=FRAME)
    yard.models.alias("m", "champion", v.version)
    app = create_app(yard, ["m@champion"], log_root=yard.settings.state_dir / "p")
    row = {"a": 4.5, "b": 1.0}

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": 4.5, '
        yield b'"b": 1.0}'

    async def test(client: httpx.AsyncClient) -> None:
        for path in ("/v1/models/m/predict", "/v1/models/m@champion/predict",
                     f"/v1/models/m/versions/{v.version}/predict"):
            r = await client.post(path, json=row)
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == [1] and r.json()["alias"] == "champion"
            assert r.headers["content-type"] == "application/json"
            assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
            assert r.json()["request_id"] == r.headers["x-request-id"]
        r = await client.post("/v1/models/m/predict", json=row,
                              headers={"x-request-id": "mine-1"})
        assert r.headers["x-request-id"] == "mine-1" == r.json()["request_id"]
        # a body in several chunks without a Content-Length
        r = await client.post("/v1/models/m/predict", content=chunks(),
                              headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json()["predictions"] == [1]
        # errors: the same JSON and statuses as before
        r = await client.post("/v1/models/m/predict", json={"a": "x", "b": 1.0})
        assert r.status_code == 422 and r.json()["error"] == "ValidationFailed"
        r = await client.post("/v1/models/nope/predict", json=row)
        assert r.status_code == 404 and "served: m@champion" in r.json()["message"]
        r = await client.post("/v1/models/m/predict", content=b"x" * 64,
                              headers={"content-length": "99999999999"})
        assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
        # what is not a predict call is FastAPI's: 405 with Allow, 422 for a bad version
        r = await client.get("/v1/models/m/predict")
        assert r.status_code == 405 and "POST" in r.headers["allow"]
        r = await client.post("/v1/models/m/versions/x/predict", json=row)
        assert r.status_code == 422
        assert "/v1/models/m@champion/predict" in (await client.get("/openapi.json")).json()[
            "paths"]
        # every answered request is in /metrics, tallied or not
        text = (await client.get("/metrics")).text
        assert re.search(r'modelyard_requests_total\{model="m",status="200",version="1"\} 5\.0',
                         text), text
        assert re.search(r'modelyard_request_latency_seconds_count\{model="m",version="1"\} '
                         r'5\.0', text)
        assert 'modelyard_errors_total{error="ValidationFailed",model="m",status="422"} 1.0' \
            in text

    in_process(app, test)


def test_the_latency_histogram_folds_exactly() -> None:
    from modelyard.serve._metrics import _LATENCY_BUCKETS, ServeMetrics

    metrics = ServeMetrics()
    values = [0.0001, 0.0005, 0.00051, 0.004, 0.0041, 0.3, 7.0, 0.001] * 80  # > one fold
    for s in values:
        metrics.observe_ok("m", 1, s, 2)
    text = metrics.render().decode()
    ours = re.findall(r'modelyard_request_latency_seconds_bucket\{le="([^"]+)",model="m",'
                      r'version="1"\} (\S+)', text)
    # cumulative buckets, as Histogram.observe would have counted them one by one
    expected = {bound: float(sum(1 for s in values if s <= bound))
                for bound in [*_LATENCY_BUCKETS, float("inf")]}
    assert {float(le): float(n) for le, n in ours} == expected
    assert f'modelyard_predicted_rows_total{{model="m",version="1"}} {2.0 * len(values)}' in text
    total = re.search(r'modelyard_request_latency_seconds_sum\{model="m",version="1"\} (\S+)',
                      text)
    assert total is not None and float(total.group(1)) == pytest.approx(sum(values))


def test_fresh_request_ids_are_random_unique_and_not_shared_with_a_forked_worker() -> None:
    """Ids come from the OS generator 256 at a time; a forked child never repeats its
    parent's unread ones (worker processes fork)."""
    import os

    from modelyard.serve._http import _request_id

    assert _request_id("given-id.1") == "given-id.1"  # a sane caller id is kept
    assert len(_request_id("bad id!")) == 32  # anything else gets a fresh one
    ids = [_request_id(None) for _ in range(3000)]
    assert len(set(ids)) == 3000 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next ids, to the parent
        os.write(write, "".join(_request_id(None) for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = os.read(read, 4096).decode()
    os.close(read)
    ours = "".join(_request_id(None) for _ in range(8))
    assert len(theirs) == len(ours) == 256 and theirs != ours


def test_routes_but_predict_read_forwarded_headers_only_from_trusted_proxies(
        yard: modelyard.Yard, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server runs with uvicorn's proxy headers off; the app applies them itself to
    every route but predict, trusting FORWARDED_ALLOW_IPS (this machine by default)."""
    model = LogisticRegression().fit(FRAME, LABELS)
    v = yard.models.register("m", model, input_example=FRAME)
    yard.models.alias("m", "champion", v.version)
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"}

    async def from_this_machine(client: httpx.AsyncClient) -> None:
        # a redirect's Location is built from the scheme the request came in with
        r = await client.get("/v1/models/", headers=https, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"].startswith("https://"), r.headers
        r = await client.post("/v1/models/m/predict", json={"a": 4.5, "b": 1.0},
                              headers=https)
        assert r.status_code == 200 and r.json()["predictions"] == [1]

    async def from_elsewhere(client: httpx.AsyncClient) -> None:
        r = await client.get("/v1/models/", headers=https, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"].startswith("http://"), r.headers

    in_process(create_app(yard, ["m@champion"], log_root=yard.settings.state_dir / "p"),
               from_this_machine)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "192.0.2.1")
    in_process(create_app(yard, ["m@champion"], log_root=yard.settings.state_dir / "q"),
               from_elsewhere)
