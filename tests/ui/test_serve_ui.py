"""`modelyard serve --ui` serves the dashboard beside the models, from one process."""

from __future__ import annotations

from pathlib import Path

import httpx

from _serving import Server, make_project


def test_serve_with_ui_mounts_the_dashboard_and_keeps_predicting(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    with Server(project, ["cancer@champion"], None, "--ui") as server:
        page = httpx.get(f"{server.url}/ui/runs", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        models = httpx.get(f"{server.url}/ui/models", timeout=30)
        assert models.status_code == 200 and "cancer" in models.text
        assert httpx.post(f"{server.url}/v1/models/cancer@champion/predict", timeout=30,
                          json=[{"mean_radius": 1.0}]).status_code == 422  # still validates
        ready = httpx.get(f"{server.url}/ready", timeout=5).json()
        assert ready["ready"] is True
    assert "Traceback" not in server.stderr()
