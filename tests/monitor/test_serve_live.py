"""The server's monitoring side through a real ``modelyard serve`` process: live sketches
that see a planted shift as requests arrive, and the management routes that run
``yard.monitor`` for a served model."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from _scenario import FEATURES, Scenario, make_frame

from _serving import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(scenario: Scenario) -> Iterator[str]:
    settings = scenario.yard.settings
    env = {"MODELYARD_DB_URL": settings.db_url} if settings.db_url else {}
    with Server(settings.project_dir, ["fraud@champion"], env,
                "--log-dir", str(scenario.root)) as served:
        yield served.url


def _drifted(drift: dict[str, object]) -> set[str]:
    features = drift["features"]
    assert isinstance(features, list)
    return {f["name"] for f in features if f["drifted"]}


def test_live_sketches_and_monitor_routes(server: str) -> None:
    live = f"{server}/v1/models/fraud/monitor/live"
    deadline = time.monotonic() + 20
    while (answer := httpx.get(live, timeout=5)).status_code == 503:
        assert answer.json()["error"] == "ModelNotReady"
        assert time.monotonic() < deadline, "the live view was never built"
        time.sleep(0.1)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == 0 and answer.json()["version"] == 1

    frame = make_frame(np.random.default_rng(5), 300, shift=1.5)
    with httpx.Client(base_url=server, timeout=10) as client:
        for start in range(0, 300, 10):
            rows = frame[FEATURES].iloc[start:start + 10].to_dict(orient="records")
            assert client.post("/v1/models/fraud/predict", json=rows).status_code == 200

        view = client.get("/v1/models/fraud/monitor/live").json()
        assert view["rows"] == 300
        assert _drifted(view["drift"]) == {"x2"}

        checked = client.post("/v1/models/fraud/monitor", json={"window": "last:300"})
        assert checked.status_code == 200, checked.text
        window = checked.json()["windows"][-1]
        assert window["versions"] == {"1": 300}  # the log was written before the check
        assert _drifted(window["drift"]) == {"x2"}
        assert any(a["subject"] == "x2" for a in checked.json()["open_alerts"])

        stored = client.get("/v1/models/fraud/monitor", params={"limit": 5}).json()
        assert len(stored["windows"]) == 1 and stored["model"] == "fraud"
        alerts = client.get("/v1/models/fraud/alerts", params={"status": "open"}).json()
        assert any(a["subject"] == "x2" for a in alerts["alerts"])
        page = client.get("/v1/models/fraud/monitor/report.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "x2" in page.text

        for path, status in [("/v1/models/nope/monitor", 404),
                             ("/v1/models/fraud/alerts?status=closed", 422),
                             ("/v1/models/nope/monitor/live", 404)]:
            bad = client.get(path)
            assert bad.status_code == status and "message" in bad.json(), path
        bad_window = client.post("/v1/models/fraud/monitor", json={"window": "weekly"})
        assert bad_window.status_code == 422 and bad_window.json()["error"] == "InvalidInput"
