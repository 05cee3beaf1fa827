"""Planted scenarios the whole loop must answer one way only, against a real ``modelyard
serve`` with traffic: new labelled data arrives for three models, and the loop retrains each;

- a challenger clearly better than its champion (logistic regression against a prior-only
  dummy) must be promoted, through shadow and canary, and then answer;
- one clearly worse (the dummy against a logistic regression) must be rejected by the gate;
- one better offline that fails on live requests (rows with ``x3`` above 5, which no held-out
  row has but every request carries) must be rolled back in canary, the champion answering
  every request meanwhile.

Each outcome is asserted exactly; seeds are fixed and the margins are wide, so the same
outcome comes every run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _loopkit import FEATURES, make_frame
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import Server
from modelyard.loop import GatePolicy, Loop, Policy, RetrainPolicy, RolloutPolicy, TriggerPolicy

pytestmark = pytest.mark.slow

FINAL = ("promoted", "gate.rejected", "rolled_back", "retrain.failed")
MODELS = ("better", "worse", "erroring")
HERE = Path(__file__).resolve().parent


class ErroringClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression that raises on any row whose ``x3`` is above ``fail_above``
    (stored by skops; the server imports this module to load it)."""

    def __init__(self, *, fail_above: float = 5.0) -> None:
        self.fail_above = fail_above

    def fit(self, X: Any, y: Any) -> ErroringClassifier:
        self.model_ = LogisticRegression(max_iter=1000).fit(np.asarray(X, dtype=float), y)
        self.classes_ = self.model_.classes_
        return self

    def _rows(self, X: Any) -> np.ndarray[Any, Any]:
        data = np.asarray(X, dtype=float)
        if (data[:, FEATURES.index("x3")] > self.fail_above).any():
            raise ValueError(f"a row with x3 above {self.fail_above}")
        return data

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict(self._rows(X)))

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model_.predict_proba(self._rows(X)))


def _estimator(cls: str, **params: Any) -> dict[str, Any]:
    return {"estimator": {"class": cls, "params": params}}


LOGREG = _estimator("sklearn.linear_model.LogisticRegression")
DUMMY = _estimator("sklearn.dummy.DummyClassifier")
# (champion's estimator, the loop's retrain spec, rollout settings)
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, float]]] = {
    "better": (DUMMY, LOGREG, {"shadow_s": 0.5, "canary_s": 1.0}),
    "worse": (LOGREG, DUMMY, {"shadow_s": 0.5, "canary_s": 1.0}),
    "erroring": (DUMMY, _estimator(f"{__name__}.ErroringClassifier", fail_above=5.0),
                 {"shadow_s": 0.0, "canary_s": 20.0}),
}


class _Traffic(threading.Thread):
    """Posts 4-row requests to every model in turn; one row of each has ``x3`` = 6."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        frame = make_frame(400, seed=4)[FEATURES]
        frame.loc[frame.index % 4 == 0, "x3"] = 6.0
        self.records: list[dict[str, Any]] = frame.to_dict(orient="records")
        self.url = url
        self.answers: dict[str, list[tuple[int, int]]] = {m: [] for m in MODELS}
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            i = 0
            while not self.halt.is_set():
                model = MODELS[i % len(MODELS)]
                start = (i * 4) % (len(self.records) - 4)
                answer = http.post(f"/v1/models/{model}/predict",
                                   json=self.records[start:start + 4])
                version = int(answer.json()["version"]) if answer.status_code == 200 else -1
                self.answers[model].append((answer.status_code, version))
                i += 1
                time.sleep(0.005)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The three scenarios run once, together, in one project served by one server."""
    project = tmp_path_factory.mktemp("planted")
    yard = modelyard.open(project)
    yard.datasets.ingest(make_frame(600), name="tx")
    for model, (champion, _, _) in SCENARIOS.items():
        yard.train({"model": model, "dataset": "tx@latest", "target": "y", **champion,
                    "evaluation": {"test_size": 0.3, "primary_metric": "roc_auc"}},
                   aliases=("champion",))
    path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    server = Server(project, [f"{m}@champion" for m in MODELS], {"PYTHONPATH": path})
    with server:
        loop = Loop(yard)
        for model, (_, retrain, rollout) in SCENARIOS.items():
            loop.set_policy(Policy(
                model, triggers=TriggerPolicy(new_data=True), retrain=RetrainPolicy(spec=retrain),
                gate=GatePolicy(bootstrap_samples=300),
                rollout=RolloutPolicy(server_url=server.url, canary_share=0.5, min_requests=5,
                                      poll_s=0.1, max_latency_p99_ms=2000, **rollout)))
        traffic = _Traffic(server.url)
        traffic.start()
        stop = threading.Event()
        runner = threading.Thread(target=loop.run_forever, kwargs={"interval_s": 0.2,
                                                                    "stop": stop}, daemon=True)
        runner.start()
        try:
            deadline = time.monotonic() + 30
            while any(yard.store.loop.state(m) is None for m in MODELS):
                assert time.monotonic() < deadline, "the loop never made its first pass"
                time.sleep(0.05)
            # The planted event: new labelled data, the same relation as before.
            yard.datasets.ingest(make_frame(1000, seed=9), name="tx")
            deadline = time.monotonic() + 120
            while True:
                last = {m: (loop.history(m) or [None])[-1] for m in MODELS}
                if all(e is not None and e.kind in FINAL for e in last.values()):
                    break
                assert time.monotonic() < deadline, {m: e and e.kind for m, e in last.items()}
                time.sleep(0.1)
            # the promoted version must then answer: wait for the server's swap
            deadline = time.monotonic() + 15
            while not traffic.answers["better"] or traffic.answers["better"][-1][1] != 2:
                assert time.monotonic() < deadline, "v2 of 'better' never answered"
                time.sleep(0.05)
        finally:
            stop.set()
            traffic.halt.set()
            traffic.join(15)
            runner.join(30)
        held_out_x3 = float(make_frame(1000, seed=9)["x3"].max())
        yield {"yard": yard, "loop": loop, "traffic": traffic, "held_out_x3": held_out_x3}
    yard.close()


def _kinds(outcome: dict[str, Any], model: str) -> list[str]:
    return [e.kind for e in outcome["loop"].history(model)]


def test_a_clearly_better_challenger_is_promoted_and_answers(outcome: dict[str, Any]) -> None:
    assert _kinds(outcome, "better") == ["trigger", "retrain.started", "retrain.finished",
                                         "gate.passed", "rollout.shadow", "rollout.canary",
                                         "promoted"]
    gate = outcome["loop"].history("better")[3]
    assert gate.data["challenger_score"] > gate.data["champion_score"] + 0.3
    assert gate.data["p_value"] < 0.01
    assert outcome["yard"].models.get("better@champion").version == 2
    assert outcome["traffic"].answers["better"][-1] == (200, 2)


def test_a_clearly_worse_challenger_is_rejected(outcome: dict[str, Any]) -> None:
    assert _kinds(outcome, "worse") == ["trigger", "retrain.started", "retrain.finished",
                                        "gate.rejected"]
    gate = outcome["loop"].history("worse")[-1]
    assert "is not better than the champion's" in gate.message
    assert gate.data["champion_score"] > gate.data["challenger_score"] + 0.3
    assert outcome["yard"].models.get("worse@champion").version == 1
    assert {v for _, v in outcome["traffic"].answers["worse"]} == {1}


def test_a_challenger_that_errors_in_canary_is_rolled_back(outcome: dict[str, Any]) -> None:
    assert outcome["held_out_x3"] < 5.0  # the gate's rows never trip it: it passes offline
    assert _kinds(outcome, "erroring") == ["trigger", "retrain.started", "retrain.finished",
                                           "gate.passed", "rollout.canary", "rolled_back"]
    rolled = outcome["loop"].history("erroring")[-1]
    assert "failed" in rolled.message and "in canary" in rolled.message, rolled.message
    assert outcome["yard"].models.get("erroring@champion").version == 1


def test_no_request_failed_in_any_scenario(outcome: dict[str, Any]) -> None:
    for model in MODELS:
        statuses = {status for status, _ in outcome["traffic"].answers[model]}
        assert statuses == {200}, (model, statuses)
        assert len(outcome["traffic"].answers[model]) > 20
