"""End to end through a real ``modelyard serve`` process: predictions over HTTP land in the
log, labels come back as feedback, and monitoring finds the drift, the accuracy and the
error rate (from the server's ``/metrics``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from _scenario import FEATURES, Scenario, make_frame

import modelyard
from modelyard.monitor import read_prediction_log

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_served_predictions_are_monitored(scenario: Scenario) -> None:
    settings = scenario.yard.settings
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env.update({"MODELYARD_LOG_FLUSH_INTERVAL_S": "0.1", "MODELYARD_LOG_ROTATE_S": "0.3"})
    if settings.db_url:
        env["MODELYARD_DB_URL"] = settings.db_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "fraud@champion", "--host", "127.0.0.1",
         "--port", str(port), "--project", str(settings.project_dir), "--log-dir",
         str(scenario.root), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
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
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    window = report.latest
    assert window is not None and window.n_predictions == 300
    assert window.drift.drifted == ("x2",)
    assert window.performance.coverage == 1.0 and window.performance.metrics["accuracy"] > 0.7
    assert window.health.requests == 30 and window.health.latency_p50_ms is not None
    assert window.health.errors_source == "server"
    assert window.health.error_rate == pytest.approx(1 / 31)
    assert any(a.subject == "x2" for a in report.open_alerts)
