"""A real server under a steady stream of requests: moving ``champion`` fails none of them,
SIGTERM loses no logged prediction, and keys guard the routes."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelyard
from _serving import Server, cancer_frame, make_project
from modelyard.cli import main
from modelyard.monitor import read_prediction_log

pytestmark = pytest.mark.slow

X, _ = cancer_frame()
RECORD: dict[str, Any] = {k: float(v) for k, v in X.iloc[0].items()}
BODY = json.dumps(RECORD).encode()


class Stream:
    """Threads posting single records until stopped (bounded by count and time)."""

    def __init__(self, url: str, threads: int = 4, limit_s: float = 20.0,
                 max_requests: int = 20_000) -> None:
        self.url = url
        self.stop = threading.Event()
        self.answers: list[tuple[float, int, int, str]] = []  # (t, status, version, id)
        self.failures: list[str] = []
        self.deadline = time.monotonic() + limit_s
        self.max_requests = max_requests
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while (not self.stop.is_set() and time.monotonic() < self.deadline
                   and len(self.answers) < self.max_requests):
                try:
                    r = http.post("/v1/models/cancer@champion/predict", content=BODY)
                except httpx.TransportError as exc:
                    with self._lock:
                        self.failures.append(repr(exc))
                    if self.stop.is_set():
                        return
                    continue
                body = r.json()
                with self._lock:
                    self.answers.append((time.monotonic(), r.status_code,
                                         body.get("version", -1), body.get("request_id", "")))

    def __enter__(self) -> Stream:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(15)


def test_moving_champion_under_load_fails_no_request(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    with Server(project, ["cancer@champion"]) as server, Stream(server.url) as stream:
        time.sleep(1.0)
        with modelyard.open(project) as yard:
            yard.models.alias("cancer", "champion", 2, reason="test")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if sum(1 for a in list(stream.answers) if a[2] == 2) > 100:
                break
            time.sleep(0.1)
    statuses = {a[1] for a in stream.answers}
    versions = [a[2] for a in stream.answers]
    assert stream.failures == [] and statuses == {200}, (statuses, stream.failures[:3])
    assert versions.count(1) > 50 and versions.count(2) > 100
    # once version 2 answered, version 1 answers only requests already queued on it
    first_v2 = versions.index(2)
    assert versions[first_v2:].count(1) <= 8


def test_sigterm_with_requests_in_flight_loses_no_logged_prediction(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    server = Server(project, ["cancer@champion"],
                    {"MODELYARD_MAX_BATCH_WAIT_MS": "5", "MODELYARD_LOG_FLUSH_INTERVAL_S": "5"})
    with server, Stream(server.url, threads=8) as stream:
        time.sleep(1.5)
        sent = len(stream.answers)
        rc = server.terminate()
        stream.stop.set()
    # uvicorn re-raises the signal it handled once it has shut down gracefully
    assert rc in (0, -15), server.stderr()
    answered = {a[3] for a in stream.answers if a[1] == 200}
    assert sent > 20 and len(answered) >= sent
    table = read_prediction_log(project / ".modelyard" / "predictions", "cancer")
    logged = set(table.column("request_id").to_pylist())
    assert answered <= logged, f"{len(answered - logged)} answered predictions not logged"
    assert table.num_rows == len(logged)
    assert set(table.column("version").to_pylist()) == {1}
    assert table.column("input.mean_radius")[0].as_py() == RECORD["mean_radius"]
    assert not list((project / ".modelyard" / "predictions" / "cancer").glob(".*.tmp"))


def _cli(project: Path, *args: str) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main([*args, "--project", str(project)])
    return buffer.getvalue()


def test_keys_guard_prediction_and_management(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    predict_key = _cli(project, "keys", "create", "--role", "predict").split()[-1]
    admin_key = _cli(project, "keys", "create", "--role", "admin", "--name", "ops").split()[-1]
    assert predict_key.startswith("my_") and admin_key != predict_key
    with modelyard.open(project) as yard:
        stored = yard.store.keys.list()
    assert predict_key.split("_")[2] not in {k.key_hash for k in stored}
    with Server(project, ["cancer@champion"]) as server, httpx.Client(
            base_url=server.url) as http:
        path = "/v1/models/cancer/predict"
        assert http.post(path, content=BODY).status_code == 401
        assert http.post(path, content=BODY, headers={"x-api-key": "my_x_y"}).status_code == 401
        bearer = {"authorization": f"Bearer {predict_key}"}
        assert http.post(path, content=BODY, headers=bearer).status_code == 200
        refused = http.post("/v1/admin/refresh", headers=bearer)
        assert refused.status_code == 403 and "predict" in refused.json()["message"]
        admin = {"authorization": f"Bearer {admin_key}"}
        assert http.post("/v1/admin/refresh", headers=admin).status_code == 200
        assert http.post(path, content=BODY, headers=admin).status_code == 200
        assert http.get("/health").status_code == 200
        with modelyard.Client(server.url, key=predict_key) as client:
            assert client.predict("cancer", RECORD).version == 1
        with pytest.raises(modelyard.Unauthorized), modelyard.Client(server.url) as anonymous:
            anonymous.predict("cancer", RECORD)
        key_id = predict_key.split("_")[1]
        assert "revoked" in _cli(project, "keys", "revoke", key_id)
        deadline = time.monotonic() + 10
        while http.post(path, content=BODY, headers=bearer).status_code != 401:
            assert time.monotonic() < deadline, "revoked key still accepted"
            time.sleep(0.1)
        listed = _cli(project, "keys", "list", "--all")
        assert key_id in listed and "ops" in listed
        # revoking the last key closes the service (with a warning), it does not open it
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            _cli(project, "keys", "revoke", admin_key.split("_")[1])
        assert "last active key" in errors.getvalue()
        while http.post("/v1/admin/refresh", headers=admin).status_code != 401:
            assert time.monotonic() < deadline + 10, "revoked admin key still accepted"
            time.sleep(0.1)
        closed = http.post(path, content=BODY)
        assert closed.status_code == 401 and "revoked" in closed.json()["message"]
        scoped = _cli(project, "keys", "create", "--role", "predict", "--scope", "other*",
                      "--rate", "100").split()[-1]
        deadline = time.monotonic() + 10
        while http.post(path, content=BODY, headers={
                "authorization": f"Bearer {scoped}"}).status_code != 403:
            assert time.monotonic() < deadline, "the scoped key was not picked up"
            time.sleep(0.1)
