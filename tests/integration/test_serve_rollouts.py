"""Shadow and canary routing through a real ``modelyard serve`` process that follows the
rollouts a test opens, advances and ends in the store (as the loop does)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _flaky import FlakyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from _serving import Server, cancer_frame, make_project
from modelyard.monitor import read_prediction_log
from modelyard.store import Rollout

pytestmark = pytest.mark.slow


class Env:
    """The project, a yard on it, and the server serving ``cancer@champion``."""

    def __init__(self, project: Path, yard: modelyard.Yard, server: Server) -> None:
        self.project = project
        self.yard = yard
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10)
        X, y = cancer_frame()
        self.records: list[dict[str, Any]] = X.to_dict(orient="records")
        self.labels: list[int] = [int(v) for v in y]

    def stats(self) -> dict[str, Any]:
        answer = self.http.get("/v1/models/cancer/stats")
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def start(self, challenger: int, stage: str, share: float = 0.0) -> Rollout:
        """Open a rollout and wait until the server routes by it."""
        rollout = self.yard.store.rollouts.start("cancer", champion_version=1,
                                                 challenger_version=challenger, stage=stage,
                                                 canary_share=share)
        deadline = time.monotonic() + 20
        while not ((r := self.stats()["rollout"]) and r["id"] == rollout.id
                   and r["challenger_loaded"]):
            assert time.monotonic() < deadline, f"the server never loaded v{challenger}"
            time.sleep(0.05)
        return rollout

    def end(self, rollout: Rollout) -> float:
        """Roll back; returns how long the server took to stop routing."""
        self.yard.store.rollouts.end(rollout.id, outcome="rolled_back", reason="test")
        ended = time.monotonic()
        while self.stats()["rollout"] is not None:
            assert time.monotonic() - ended < 5, "the server still routes"
            time.sleep(0.02)
        return time.monotonic() - ended

    def logged(self, request_ids: list[str], settle_s: float = 0.0) -> pd.DataFrame:
        """The logged rows of ``request_ids``, once every one of them is logged and
        ``settle_s`` more seconds have passed (time for rows that must not come)."""
        log = self.project / ".modelyard" / "predictions"
        deadline = time.monotonic() + 10
        while True:
            table = read_prediction_log(log, "cancer").to_pandas()
            rows = table[table["request_id"].isin(request_ids)]
            if set(rows["request_id"]) == set(request_ids):
                break
            assert time.monotonic() < deadline, f"{rows['request_id'].nunique()} logged"
            time.sleep(0.1)
        if settle_s:
            time.sleep(settle_s)
            table = read_prediction_log(log, "cancer").to_pandas()
        return table[table["request_id"].isin(request_ids)]

    def predict(self, rows: list[dict[str, Any]], ref: str = "cancer",
                request_id: str | None = None) -> dict[str, Any]:
        headers = {"x-request-id": request_id} if request_id else {}
        answer = self.http.post(f"/v1/models/{ref}/predict", json=rows, headers=headers)
        assert answer.status_code == 200, answer.text  # never a failed client request
        data: dict[str, Any] = answer.json()
        return data


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    project = make_project(tmp_path_factory.mktemp("rollouts"))
    X, y = cancer_frame()
    yard = modelyard.open(project, allow_pickle=True)
    # v3 fails on rows with a large mean radius; v4 answers slowly
    for model in (FlakyClassifier(fail_above=15.0), FlakyClassifier(delay_s=0.4)):
        yard.models.register("cancer", model.fit(X, y), format="pickle",
                             input_example=X[X["mean_radius"] <= 15.0].head(10))
    # v5 learned the labels flipped: wrong on purpose, so its live accuracy is poor
    yard.models.register("cancer", make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=500)).fit(X, 1 - y),
        input_example=X.head(10))
    here = str(Path(__file__).parent)
    server = Server(project, ["cancer@champion"], {
        "MODELYARD_ALLOW_PICKLE": "1", "MODELYARD_LOG_ROTATE_S": "0.2",
        "MODELYARD_CANARY_TIMEOUT_MS": "150", "PYTHONPATH": here})
    with server:
        e = Env(project, yard, server)
        yield e
        e.http.close()
    yard.close()


def test_shadow_logs_the_challenger_and_the_champion_answers(env: Env) -> None:
    rollout = env.start(2, "shadow")
    try:
        for i in range(20):
            assert env.predict(env.records[i * 5:i * 5 + 5])["version"] == 1
        log = env.project / ".modelyard" / "predictions"
        deadline = time.monotonic() + 10
        while True:
            table = read_prediction_log(log, "cancer").to_pandas()
            shadow = table[table["alias"] == "shadow"]
            if len(shadow) >= 100:
                break
            assert time.monotonic() < deadline, f"{len(shadow)} shadow rows logged"
            time.sleep(0.1)
        assert len(shadow) == 100 and set(shadow["version"]) == {2}
        answered = table[table["alias"] != "shadow"]
        assert set(answered["version"]) == {1}
        assert set(shadow["request_id"]) <= set(answered["request_id"])
        stats = env.stats()
        assert stats["rollout"]["stage"] == "shadow"
        champion, challenger = stats["versions"]["1"], stats["versions"]["2"]
        assert champion["role"] == "champion" and champion["requests"] == 20
        assert challenger["role"] == "challenger" and challenger["requests"] == 20
        assert challenger["errors"] == 0 and challenger["latency_ms"]["p99"] is not None
        metrics = env.http.get("/metrics").text
        assert 'modelyard_predicted_rows_total{model="cancer",version="2"} 100.0' in metrics
    finally:
        env.end(rollout)


def test_canary_share_routes_about_half_and_rollback_stops_it(env: Env) -> None:
    rollout = env.start(2, "canary", 0.5)
    try:
        versions = [env.predict(env.records[i:i + 2])["version"] for i in range(100)]
        assert 25 <= versions.count(2) <= 75 and versions.count(1) + versions.count(2) == 100
        # a retry with the same request id is answered by the same version
        assert len({env.predict(env.records[:1], request_id="retry-7")["version"]
                    for _ in range(5)}) == 1
        # an explicit version is never re-routed
        for ref in ("cancer@1", "cancer/versions/1"):
            assert {env.predict(env.records[:1], ref)["version"] for _ in range(10)} == {1}
        stats = env.stats()["versions"]
        assert stats["2"]["requests"] + stats["1"]["requests"] == 105
        assert stats["2"]["errors"] == 0 and stats["2"]["fallbacks"] == 0
    finally:
        took = env.end(rollout)
    assert took < 2.0  # one poll (0.2 s) and a response
    assert {env.predict(env.records[i:i + 1])["version"] for i in range(30)} == {1}


def test_a_failing_challenger_falls_back_to_the_champion(env: Env) -> None:
    rollout = env.start(3, "canary", 1.0)
    try:
        radius = [r["mean_radius"] for r in env.records]
        failing = sum(r > 15.0 for r in radius[:40])
        assert 0 < failing < 40
        ids = [f"flaky-{i}" for i in range(40)]
        versions = [env.predict(env.records[i:i + 1], request_id=ids[i])["version"]
                    for i in range(40)]
        assert versions.count(1) == failing and versions.count(3) == 40 - failing
        challenger = env.stats()["versions"]["3"]
        assert challenger["errors"] == challenger["fallbacks"] == failing
        assert challenger["requests"] == 40
        # each request is logged once, as the version that answered it
        rows = env.logged(ids)
        assert len(rows) == 40 and rows["request_id"].is_unique
        assert dict(zip(rows["request_id"], rows["version"], strict=True)) == dict(
            zip(ids, versions, strict=True))
    finally:
        env.end(rollout)


def test_a_slow_challenger_falls_back_within_the_budget(env: Env) -> None:
    rollout = env.start(4, "canary", 1.0)
    try:
        started = time.monotonic()
        ids = [f"slow-{i}" for i in range(5)]
        assert {env.predict(env.records[i:i + 1], request_id=ids[i])["version"]
                for i in range(5)} == {1}
        assert time.monotonic() - started < 5 * 0.4  # never waited for the slow model
        # the challenger still predicted them after the champion answered: only the
        # champion's answers are logged (5 x 0.4 s: every late prediction is done by then)
        rows = env.logged(ids, settle_s=5 * 0.4 + 0.5)
        assert len(rows) == 5 and set(rows["version"]) == {1}
        challenger = env.stats()["versions"]["4"]
        assert challenger["fallbacks"] == challenger["errors"] == 5
        metrics = env.http.get("/metrics").text
        assert ('modelyard_challenger_predictions_total{model="cancer",outcome="fallback",'
                'stage="canary",version="4"} 5.0') in metrics
    finally:
        env.end(rollout)


def _feedback(env: Env, answered: dict[str, int]) -> dict[str, Any]:
    """Post the true labels of every row of the answered requests (id -> first record)."""
    items = [{"request_id": rid, "row": row, "label": env.labels[first + row]}
             for rid, first in answered.items() for row in range(2)]
    answer = env.http.post("/v1/models/cancer/feedback", json={"items": items})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_canary_feedback_shows_each_versions_accuracy(env: Env) -> None:
    rollout = env.start(5, "canary", 0.5)
    try:
        answered: dict[str, int] = {}
        rows_by = {1: 0, 5: 0}
        for i in range(80):
            first = (i * 2) % 500
            answer = env.predict(env.records[first:first + 2], request_id=f"acc-{i}")
            answered[answer["request_id"]] = first
            rows_by[answer["version"]] += 2
        assert rows_by[1] > 0 and rows_by[5] > 0
        before = env.stats()["versions"]
        assert before["5"]["labelled"] == 0 and before["5"]["accuracy"] is None
        assert _feedback(env, answered) == {"model": "cancer", "stored": 160, "scored": 160}
        stats = env.stats()["versions"]
        champion, challenger = stats["1"], stats["5"]
        assert champion["labelled"] == rows_by[1] and challenger["labelled"] == rows_by[5]
        assert champion["accuracy"] > 0.9 and challenger["accuracy"] < 0.1
        # the same labels again are stored, but each prediction is scored once
        assert _feedback(env, answered)["scored"] == 0
        assert env.stats()["versions"]["5"]["labelled"] == rows_by[5]
    finally:
        env.end(rollout)
    # the next rollout starts from nothing
    rollout = env.start(5, "shadow")
    try:
        answered = {env.predict(env.records[i * 2:i * 2 + 2])["request_id"]: i * 2
                    for i in range(10)}
        deadline = time.monotonic() + 5
        while env.stats()["versions"]["5"]["requests"] < 10:  # shadow copies finish later
            assert time.monotonic() < deadline, "the shadow challenger never predicted"
            time.sleep(0.02)
        assert env.stats()["versions"]["5"]["labelled"] == 0
        # shadow predictions of the same rows are scored for the challenger too
        assert _feedback(env, answered)["scored"] == 40
        stats = env.stats()["versions"]
        assert stats["1"]["labelled"] == stats["5"]["labelled"] == 20
        assert stats["1"]["accuracy"] > 0.9 and stats["5"]["accuracy"] < 0.1
    finally:
        env.end(rollout)


def test_loop_history_and_status_routes(env: Env) -> None:
    loop = env.yard.store.loop
    for kind in ("trigger", "retrain.started", "gate.passed"):
        loop.add_event("cancer", kind, f"{kind} for the test", {"cycle": "t1"})
    loop.save_state("cancer", {"step": "canary", "cycle": "t1", "champion": 1,
                               "challenger": 5})
    history = env.http.get("/v1/models/cancer/loop/history", params={"limit": 2})
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["model"] == "cancer"
    assert [e["kind"] for e in body["events"]] == ["retrain.started", "gate.passed"]
    assert body["events"][-1]["message"] == "gate.passed for the test"
    assert body["events"][-1]["data"] == {"cycle": "t1"} and body["events"][-1]["at"] > 0
    missing = env.http.get("/v1/models/nothing/loop/history")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    bad = env.http.get("/v1/models/cancer/loop/history", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"] == "InvalidInput"
    status = env.http.get("/v1/loop/status")
    assert status.status_code == 200, status.text
    (cancer,) = [m for m in status.json()["models"] if m["model"] == "cancer"]
    assert cancer["step"] == "canary" and cancer["challenger"] == 5
    assert cancer["has_policy"] is False and cancer["updated_at"] > 0
