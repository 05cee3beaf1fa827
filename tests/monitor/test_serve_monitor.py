"""End to end through a real ``modelyard serve`` process: predictions over HTTP land in the
log, labels come back as feedback, and monitoring finds the drift, the accuracy and the
error rate (from the server's ``/metrics``)."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from _scenario import FEATURES, Scenario, make_frame

import modelyard
from _serving import Server
from modelyard.monitor import read_prediction_log

pytestmark = pytest.mark.slow


def test_served_predictions_are_monitored(scenario: Scenario) -> None:
    settings = scenario.yard.settings
    env = {"MODELYARD_LOG_ROTATE_S": "0.3"}
    if settings.db_url:
        env["MODELYARD_DB_URL"] = settings.db_url
    with Server(settings.project_dir, ["fraud@champion"], env,
                "--log-dir", str(scenario.root)) as served:
        url = served.url
        frame = make_frame(np.random.default_rng(11), 300, shift=1.5)
        with modelyard.Client(url) as client:
            for start in range(0, 300, 10):
                part = frame.iloc[start:start + 10]
                answer = client.predict("fraud", part[FEATURES])
                client.feedback("fraud", answer.request_id, part["y"].tolist())
            bad = httpx.post(f"{url}/v1/models/fraud/predict", json=[{"x0": "oops"}])
            assert bad.status_code == 422
        deadline = time.monotonic() + 15
        while read_prediction_log(scenario.root, "fraud").num_rows < 300:
            assert time.monotonic() < deadline, "the log did not show every prediction"
            time.sleep(0.1)
        report = scenario.yard.monitor.check("fraud", window="last:300",
                                             log_root=scenario.root, server_url=url)
    window = report.latest
    assert window is not None and window.n_predictions == 300
    assert window.drift.drifted == ("x2",)
    assert window.performance.coverage == 1.0 and window.performance.metrics["accuracy"] > 0.7
    assert window.health.requests == 30 and window.health.latency_p50_ms is not None
    assert window.health.errors_source == "server"
    # a 422 is the caller's mistake: a client error, not a failure of the service
    assert window.health.error_rate == 0.0
    assert window.health.client_error_rate == pytest.approx(1 / 31)
    assert any(a.subject == "x2" for a in report.open_alerts)
