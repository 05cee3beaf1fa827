"""``modelyard serve --workers 2`` is one service: a clean start, ``/metrics`` summed over the
workers (monotonic), rollout stats and feedback merged, a canary failing on one worker rolled
back, and a worker killed with SIGKILL replaced without losing an accepted request."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _bad_worker import OneWorkerFails
from prometheus_client.parser import text_string_to_metric_families
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from _serving import Server, cancer_frame
from modelyard.loop import Audit, Policy, RolloutController, RolloutPolicy

pytestmark = pytest.mark.slow


class Env:
    """The project, a yard on it, and a two-worker server serving ``cancer@champion``."""

    def __init__(self, project: Path, yard: modelyard.Yard, server: Server) -> None:
        self.project = project
        self.yard = yard
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10)
        X, y = cancer_frame()
        self.records: list[dict[str, Any]] = X.to_dict(orient="records")
        self.labels = [int(v) for v in y]
        self._seen = b""

    def workers(self) -> set[int]:
        """The pids of the server's worker processes."""
        pid = self.server.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(c) for c in children}

    def messages(self) -> str:
        """What the server wrote to stderr so far (read without blocking)."""
        stream = self.server.proc.stderr
        assert stream is not None
        fd = stream.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            self._seen += chunk
        return self._seen.decode(errors="replace")

    def requests_total(self) -> float:
        """``modelyard_requests_total`` of answered (200) predictions, from ``/metrics``."""
        answer = self.http.get("/metrics", headers={"connection": "close"})  # any worker
        assert answer.status_code == 200
        return sum(s.value for f in text_string_to_metric_families(answer.text)
                   if f.name == "modelyard_requests" for s in f.samples
                   if s.name == "modelyard_requests_total" and s.labels["status"] == "200")

    def stats(self) -> dict[str, Any]:
        """``/v1/models/cancer/stats`` over a fresh connection (any worker may answer)."""
        answer = self.http.get("/v1/models/cancer/stats", headers={"connection": "close"})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def live_rows(self) -> int:
        """Rows in the champion's live drift view (any worker may answer)."""
        deadline = time.monotonic() + 20
        while (answer := self.http.get("/v1/models/cancer/monitor/live",
                                        headers={"connection": "close"})).status_code == 503:
            assert time.monotonic() < deadline, "the live view was never built"
            time.sleep(0.1)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["rows"])

    def shared_db(self) -> Path:
        """The workers' shared SQLite file (from a worker's environment)."""
        pid = min(self.workers())
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        (info,) = [e for e in environ if e.startswith(b"MODELYARD_SERVE_WORKER=")]
        return Path(json.loads(info.partition(b"=")[2])["dir"]) / "shared.db"

    def predict(self, i: int) -> dict[str, Any]:
        # a connection each, so the kernel spreads the requests over the workers
        answer = self.http.post("/v1/models/cancer/predict", json=[self.records[i]],
                                headers={"connection": "close"})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("workers")
    project = root / "project"
    X, y = cancer_frame()
    yard = modelyard.open(project, allow_pickle=True)
    # v1 (champion) knows its training data, so the server keeps live drift sketches of it
    data = yard.datasets.ingest(X.assign(target=y), name="cancer-data")
    v1 = yard.models.register("cancer", HistGradientBoostingClassifier(
        max_iter=20, random_state=0).fit(X, y), dataset_version=data,
        input_example=X.head(10), extra={"task": "classification", "target": "target"})
    yard.models.alias("cancer", "champion", v1.version)
    yard.models.register("cancer", make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y), input_example=X.head(10))
    # v3 fails in whichever worker predicts with it first, and only there
    yard.models.register("cancer", OneWorkerFails(marker=str(root / "bad-worker")).fit(X, y),
                         format="pickle", input_example=X.head(10))
    server = Server(project, ["cancer@champion"], {
        "MODELYARD_ALLOW_PICKLE": "1", "MODELYARD_CANARY_TIMEOUT_MS": "300",
        "PYTHONPATH": str(Path(__file__).parent)}, "--workers", "2")
    try:
        server.wait_ready(120)  # two processes importing at once on a busy 2-core machine
    except BaseException:
        server.terminate()
        raise
    with server:
        e = Env(project, yard, server)
        yield e
        e.http.close()
    yard.close()


def test_two_workers_start_cleanly_and_metrics_are_their_sum(env: Env) -> None:
    ready = env.http.get("/ready")
    assert ready.status_code == 200 and ready.json()["workers"] == {"expected": 2, "ready": 2}
    assert len(env.workers()) == 2
    assert "replacement" not in env.messages(), env.messages()  # no worker restarted
    before = env.requests_total()
    answered: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=env.server.url, timeout=10) as http:
            for i in range(300):  # bounded
                if stop.is_set():
                    return
                # a connection each: the kernel hands each to whichever worker accepts
                r = http.post("/v1/models/cancer/predict", json=env.records[i % 500],
                              headers={"connection": "close"})
                assert r.status_code == 200, r.text
                answered.append(1)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        # 20 scrapes while the load runs: each one sees every worker, so none goes back
        scrapes = []
        for _ in range(20):
            scrapes.append(env.requests_total())
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert scrapes == sorted(scrapes) and scrapes[-1] > scrapes[0], scrapes
    # once the clients have their answers, the sum is exactly what they were answered
    assert env.requests_total() - before == len(answered)
    # and both workers served (each writes its own log files, its pid in their names)
    folder = env.project / ".modelyard" / "predictions" / "cancer"
    deadline = time.monotonic() + 5
    while len({re.split(r"-", p.name)[2] for p in folder.glob("*part-*")}) < 2:
        assert time.monotonic() < deadline, sorted(p.name for p in folder.glob("*"))
        time.sleep(0.1)


def _start(env: Env, challenger: int, share: float) -> int:
    rollout = env.yard.store.rollouts.start("cancer", champion_version=1,
                                            challenger_version=challenger, stage="canary",
                                            canary_share=share)
    deadline = time.monotonic() + 30
    while True:  # every worker must have loaded the challenger
        r = env.stats()["rollout"]
        if r and r["id"] == rollout.id and r["challenger_loaded"]:
            return rollout.id
        assert time.monotonic() < deadline, f"the workers never loaded v{challenger}"
        time.sleep(0.05)


def test_rollout_stats_and_feedback_merge_across_workers(env: Env) -> None:
    time.sleep(1.5)  # quiet for a second: each worker has written its sketches since
    live_before = env.live_rows()
    rollout = _start(env, 2, 0.5)
    try:
        answered: dict[str, int] = {}  # request id -> version
        for i in range(120):
            body = env.predict(i)
            answered[body["request_id"]] = body["version"]
        by_version = {v: sum(1 for a in answered.values() if a == v) for v in (1, 2)}
        assert min(by_version.values()) > 20, by_version
        # every read, whichever worker answers it, counts every request once
        for _ in range(6):
            versions = env.stats()["versions"]
            assert {v: versions[str(v)]["requests"] for v in (1, 2)} == by_version
        # each worker answered some: its own rows in the shared file count them
        with contextlib.closing(sqlite3.connect(env.shared_db())) as db:
            rows = db.execute("SELECT pid, body FROM stats WHERE rollout = ?",
                              (rollout,)).fetchall()
        per_worker: dict[int, int] = {}
        for pid, body in rows:
            per_worker[pid] = per_worker.get(pid, 0) + json.loads(body)["requests"]
        assert len([n for n in per_worker.values() if n > 0]) == 2, per_worker
        assert sum(per_worker.values()) == len(answered)
        # labels sent at once reach the predictions of whichever worker made them
        ids = list(answered)
        scored = 0
        for start in range(0, len(ids), 20):
            items = [{"request_id": rid, "label": env.labels[start + k]}
                     for k, rid in enumerate(ids[start:start + 20])]
            answer = env.http.post("/v1/models/cancer/feedback", json={"items": items},
                                   headers={"connection": "close"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["stored"] == len(items)
            scored += answer.json()["scored"]
        assert scored == len(answered)
        for _ in range(4):
            versions = env.stats()["versions"]
            assert {v: versions[str(v)]["labelled"] for v in (1, 2)} == by_version
            assert versions["1"]["accuracy"] > 0.9 and versions["2"]["accuracy"] > 0.9
        # the live drift view of v1 counts the rows every worker served with it
        deadline = time.monotonic() + 5
        while (rows := env.live_rows()) != live_before + by_version[1]:
            assert time.monotonic() < deadline, (rows, live_before, by_version)
            time.sleep(0.2)
    finally:
        env.yard.store.rollouts.end(rollout, outcome="rolled_back", reason="test")


class Traffic:
    """Client threads posting records until stopped (bounded by time and count); a request
    that failed to connect, or whose connection broke before an answer, is sent again with
    the same request id, and counted."""

    def __init__(self, url: str, records: list[dict[str, Any]], threads: int = 4,
                 limit_s: float = 60.0) -> None:
        self.url = url
        self.records = records
        self.statuses: list[int] = []
        self.answered: set[str] = set()
        self.retried = 0
        self.unanswered: list[str] = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + limit_s
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(threads)]

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            for i in range(5000):
                if self._stop.is_set() or time.monotonic() > self._deadline:
                    return
                rid = f"t{n}-{i}-{uuid.uuid4().hex[:8]}"
                for _ in range(20):
                    try:
                        # a connection each: the kernel spreads them over the workers
                        r = http.post("/v1/models/cancer@champion/predict",
                                      json=self.records[i % 500],
                                      headers={"x-request-id": rid, "connection": "close"})
                    except (httpx.ConnectError, httpx.ReadError, httpx.WriteError,
                            httpx.RemoteProtocolError):
                        with self._lock:
                            self.retried += 1
                        continue
                    with self._lock:
                        self.statuses.append(r.status_code)
                        if r.status_code == 200:
                            self.answered.add(rid)
                    break
                else:
                    self.unanswered.append(rid)

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def _drive(env: Env, challenger: int) -> dict[str, Any]:
    policy = Policy("cancer", rollout=RolloutPolicy(
        server_url=env.server.url, shadow_s=0.0, canary_share=0.5, canary_s=3.0,
        min_requests=10, poll_s=0.1))
    controller = RolloutController(env.yard, policy, Audit(env.yard.store))
    state: dict[str, Any] = {"cycle": f"w{challenger}-{time.time():.0f}", "champion": 1,
                             "challenger": challenger}
    step = controller.begin(state)
    deadline = time.monotonic() + 60
    while step != "idle":
        assert time.monotonic() < deadline, f"the rollout of v{challenger} never ended"
        time.sleep(0.1)
        step = controller.step(state)
    return state


def test_canary_failing_on_one_worker_is_rolled_back(env: Env) -> None:
    with Traffic(env.server.url, env.records, threads=2) as traffic:
        state = _drive(env, 3)
    assert state["outcome"] == "rolled_back"
    event = env.yard.loop.history("cancer")[-1]
    assert event.kind == "rolled_back" and "failed" in event.message, event.message
    assert set(traffic.statuses) == {200} and len(traffic.statuses) > 10  # fallbacks
    assert env.yard.models.get("cancer@champion").version == 1


def test_a_worker_killed_with_sigkill_is_replaced_and_no_request_is_lost(env: Env) -> None:
    old = env.workers()
    before = env.requests_total()
    with Traffic(env.server.url, env.records) as traffic:
        time.sleep(1.0)
        victim = min(old)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:  # a new worker takes the dead one's place and gets ready
            now = env.workers()
            try:  # a connection of its own: the pooled one may have been the dead worker's
                ready = httpx.get(f"{env.server.url}/ready", timeout=5).json()["workers"]["ready"]
            except httpx.TransportError:
                ready = 0
            if len(now) == 2 and victim not in now and ready == 2:
                break
            assert time.monotonic() < deadline, f"no replacement: {now}, {ready} ready"
            time.sleep(0.1)
        served_before = len(traffic.answered)
        time.sleep(1.0)
    assert len(traffic.answered) > served_before, "the service stopped answering"
    # every request was answered: none failed, none gave up; only broken connections retried
    assert traffic.unanswered == [] and set(traffic.statuses) == {200}
    assert len(traffic.answered) == len(traffic.statuses)
    # the dead worker's counts stay in /metrics; a request it counted but never delivered
    # was retried, so the server may count at most that many more than were answered
    env.http.close()
    env.http = httpx.Client(base_url=env.server.url, timeout=10)
    total = env.requests_total() - before
    assert len(traffic.answered) <= total <= len(traffic.answered) + traffic.retried
    print(f"answered {len(traffic.answered)}, connection errors retried {traffic.retried}")
    assert f"pid {victim}) exited" in env.messages()
