"""The loop's rollout controller against a real ``modelyard serve`` process that follows
its rollouts (shadow, canary with fallback, /stats), and a loop process SIGKILLed mid-rollout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _flaky import FlakyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from _serving import Server, cancer_frame, make_project
from modelyard.loop import Audit, Policy, RolloutController, RolloutPolicy

pytestmark = pytest.mark.slow


class Traffic:
    """A client thread posting 5-row requests to ``name`` until stopped; every answer kept.
    With ``labels`` (one per record) it posts each answer's true labels as feedback."""

    def __init__(self, url: str, model: str, records: list[dict[str, Any]],
                 labels: list[int] | None = None) -> None:
        self.statuses: list[int] = []
        self.versions: list[int] = []
        self._stop = threading.Event()
        self._labels = labels
        self._thread = threading.Thread(target=self._run, args=(url, model, records),
                                        daemon=True)

    def _run(self, url: str, model: str, records: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = 0
            while not self._stop.is_set():
                rows = records[(i * 5) % 500:(i * 5) % 500 + 5]
                answer = http.post(f"/v1/models/{model}/predict", json=rows)
                self.statuses.append(answer.status_code)
                if answer.status_code == 200:
                    self.versions.append(int(answer.json()["version"]))
                    if self._labels is not None:
                        first = (i * 5) % 500
                        items = [{"request_id": answer.json()["request_id"], "row": row,
                                  "label": self._labels[first + row]} for row in range(5)]
                        http.post(f"/v1/models/{model}/feedback", json={"items": items})
                i += 1
                time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[modelyard.Yard, Server]]:
    project = make_project(tmp_path_factory.mktemp("loop-rollout"))
    X, y = cancer_frame()
    yard = modelyard.open(project, allow_pickle=True)
    for model in (FlakyClassifier(fail_above=15.0), FlakyClassifier(delay_s=0.3)):
        yard.models.register("cancer", model.fit(X, y), format="pickle",
                             input_example=X[X["mean_radius"] <= 15.0].head(10))
    # v5 learned the labels flipped: it answers fast and without error, but wrongly
    yard.models.register("cancer", make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=500)).fit(X, 1 - y),
        input_example=X.head(10))
    server = Server(project, ["cancer@champion"], {
        "MODELYARD_ALLOW_PICKLE": "1", "MODELYARD_CANARY_TIMEOUT_MS": "150",
        "PYTHONPATH": str(Path(__file__).parent)})
    with server:
        yield yard, server
    yard.close()


def _drive(yard: modelyard.Yard, url: str, challenger: int, timeout_s: float = 30,
           **rollout: Any) -> tuple[dict[str, Any], RolloutController]:
    policy = Policy("cancer", rollout=RolloutPolicy(
        server_url=url, shadow_s=0.5, canary_share=0.5, canary_s=1.0, min_requests=10,
        poll_s=0.1, **rollout))
    controller = RolloutController(yard, policy, Audit(yard.store))
    state: dict[str, Any] = {"cycle": f"c{challenger}-{time.time():.0f}", "champion": 1,
                             "challenger": challenger}
    step = controller.begin(state)
    deadline = time.monotonic() + timeout_s
    while step != "idle":
        assert time.monotonic() < deadline, f"the rollout of v{challenger} never ended"
        time.sleep(0.1)
        step = controller.step(state)
    return state, controller


def _records() -> list[dict[str, Any]]:
    X, _ = cancer_frame()
    records: list[dict[str, Any]] = X.to_dict(orient="records")
    return records


def test_erroring_challenger_is_rolled_back_with_no_failed_request(
        served: tuple[modelyard.Yard, Server]) -> None:
    yard, server = served
    with Traffic(server.url, "cancer", _records()) as traffic:
        state, _ = _drive(yard, server.url, 3)
    assert state["outcome"] == "rolled_back"
    assert set(traffic.statuses) == {200} and len(traffic.statuses) > 5
    event = yard.loop.history("cancer")[-1]
    assert event.kind == "rolled_back" and "failed" in event.message
    assert yard.store.rollouts.history("cancer")[0].stage == "rolled_back"
    assert yard.models.get("cancer@champion").version == 1
    assert yard.models.get("cancer@3").description.startswith("rolled back by the loop")


def test_slow_challenger_is_rolled_back(served: tuple[modelyard.Yard, Server]) -> None:
    yard, server = served
    with Traffic(server.url, "cancer", _records()) as traffic:
        state, _ = _drive(yard, server.url, 4, max_latency_p99_ms=100.0)
    assert state["outcome"] == "rolled_back" and set(traffic.statuses) == {200}
    assert yard.models.get("cancer@champion").version == 1


def test_inaccurate_challenger_is_rolled_back_on_live_feedback(
        served: tuple[modelyard.Yard, Server]) -> None:
    yard, server = served
    _, y = cancer_frame()
    with Traffic(server.url, "cancer", _records(), [int(v) for v in y]) as traffic:
        state, _ = _drive(yard, server.url, 5)
    assert state["outcome"] == "rolled_back" and set(traffic.statuses) == {200}
    event = yard.loop.history("cancer")[-1]
    assert event.kind == "rolled_back" and "accuracy" in event.message, event.message
    assert yard.models.get("cancer@champion").version == 1


def test_healthy_challenger_is_promoted_and_answers(
        served: tuple[modelyard.Yard, Server]) -> None:
    yard, server = served
    with Traffic(server.url, "cancer", _records()) as traffic:
        state, _ = _drive(yard, server.url, 2)
        assert state["outcome"] == "promoted"
        deadline = time.monotonic() + 10
        while not traffic.versions or traffic.versions[-1] != 2:
            assert time.monotonic() < deadline, "the server never swapped in v2"
            time.sleep(0.05)
    assert set(traffic.statuses) == {200}
    kinds = [e.kind for e in yard.loop.history("cancer") if e.data.get("cycle") == state["cycle"]]
    assert kinds == ["rollout.shadow", "rollout.canary", "promoted"]
    assert yard.models.get("cancer@champion").version == 2
    assert yard.store.rollouts.history("cancer")[0].stage == "promoted"


POLICY = """
[loop.fraud.triggers]
new_data = true

[loop.fraud.retrain.spec.estimator]
class = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 2000 }}

[loop.fraud.gate]
bootstrap_samples = 200

[loop.fraud.rollout]
server_url = "{url}"
shadow_s = 1.0
canary_share = 0.5
canary_s = 2.0
min_requests = 5
poll_s = 0.1
"""


def _loop_process(project: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    return subprocess.Popen(
        [sys.executable, "-m", "modelyard", "loop", "start", "--interval-s", "0.2",
         "--lease-ttl-s", "2", "-C", str(project)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(what: str, check: Any, timeout_s: float = 40) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_mid_rollout_then_restart_converges(tmp_path: Path) -> None:
    X, y = cancer_frame()
    frame = X.assign(malignant=(y == 0).astype(int))
    with modelyard.open(tmp_path) as yard:
        yard.datasets.ingest(frame.iloc[:400], name="cancer")
        yard.train({"model": "fraud", "dataset": "cancer@latest", "target": "malignant",
                    "estimator": {"class": "sklearn.dummy.DummyClassifier"},
                    "evaluation": {"primary_metric": "roc_auc"}}, aliases=("champion",))
    with Server(tmp_path, ["fraud@champion"]) as server, \
            Traffic(server.url, "fraud", X.to_dict(orient="records")) as traffic:
        (tmp_path / "modelyard.toml").write_text(POLICY.format(url=server.url), "utf-8")
        yard = modelyard.open(tmp_path)
        first = _loop_process(tmp_path)
        try:
            _wait_for("the first pass", lambda: yard.store.loop.state("fraud") is not None)
            yard.datasets.ingest(frame, name="cancer")  # new data: the loop retrains
            _wait_for("the canary", lambda: (yard.store.loop.state("fraud") or
                                             _Never).state.get("step") == "canary")
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        assert yard.store.rollouts.current("fraud") is not None  # killed mid-rollout
        second = _loop_process(tmp_path)
        try:
            _wait_for("convergence", lambda: (yard.store.loop.state("fraud") or
                                              _Never).state.get("step") == "idle")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
        history = yard.loop.history("fraud")
        kinds = [e.kind for e in history]
        assert kinds.count("retrain.finished") == 1 and kinds.count("promoted") == 1, kinds
        assert len(yard.models.versions("fraud")) == 2
        assert yard.models.get("fraud@champion").version == 2
        rollouts = yard.store.rollouts.history("fraud")
        assert [r.stage for r in rollouts] == ["promoted"]
        assert [e.to_version for e in yard.models.alias_history("fraud", "champion")] == [1, 2]
        _wait_for("v2 answering", lambda: traffic.versions[-1] == 2, timeout_s=10)
        yard.close()
    assert set(traffic.statuses) == {200}


class _Never:
    state: dict[str, Any] = {}
