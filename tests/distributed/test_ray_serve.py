"""``modelyard serve --backend ray --replicas 2``: the prediction service as two Ray Serve
replicas on the run's local cluster, seen as one service (one ``/metrics``, rollout stats and
feedback merged), hot-swapped, and stopped without losing a logged prediction; and the CLI's
refusals when Ray is missing or the options do not fit the backend."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from _raykit import make_rows
from prometheus_client.parser import text_string_to_metric_families

import modelyard
from _serving import Server, in_process
from modelyard.cli import main
from modelyard.distributed import RayCluster
from modelyard.serve import create_app

ROW = {"amount": 1.5, "age": 0.2, "channel": "web"}
BAD = [{"amount": "much", "age": 0.2}]  # a value of the wrong type and a missing field


class Env:
    """The project, a yard on it, the server, and what the clients were answered."""

    def __init__(self, project: Path, yard: modelyard.Yard, server: Server) -> None:
        self.project = project
        self.yard = yard
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.answered = 0  # predictions answered 200, one row each

    def predict(self, i: int, ref: str = "fraud") -> dict[str, Any]:
        answer = self.http.post(f"/v1/models/{ref}/predict",
                                json=[{**ROW, "amount": (i % 40) / 10 - 2}])
        assert answer.status_code == 200, answer.text
        self.answered += 1
        # one X-Request-ID, the one in the body (Ray Serve's proxy adds it, the app not again)
        assert answer.headers.get_list("x-request-id") == [answer.json()["request_id"]]
        body: dict[str, Any] = answer.json()
        return body

    def requests_total(self) -> float:
        answer = self.http.get("/metrics")
        assert answer.status_code == 200
        return sum(s.value for f in text_string_to_metric_families(answer.text)
                   if f.name == "modelyard_requests" for s in f.samples
                   if s.name == "modelyard_requests_total" and s.labels["status"] == "200")

    def stats(self) -> dict[str, Any]:
        answer = self.http.get("/v1/models/fraud/stats")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def log_files(self) -> list[Path]:
        return sorted((self.project / ".modelyard" / "predictions" / "fraud").glob("*part-*"))

    def replica_pids(self, at_least: int) -> set[int]:
        """The pids in the names of the replicas' log files (``.part-<stamp>-<pid>-...``)."""
        deadline = time.monotonic() + 30
        while len(pids := {int(p.name.split("-")[2]) for p in self.log_files()}) < at_least:
            assert time.monotonic() < deadline, [p.name for p in self.log_files()]
            time.sleep(0.1)
        return pids


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, ray_cluster: RayCluster) -> Iterator[Env]:
    ray = ray_cluster.connect()
    project = tmp_path_factory.mktemp("replicas") / "project"
    yard = modelyard.open(project)
    yard.datasets.ingest(make_rows(600), name="tx")
    base = {"model": "fraud", "dataset": "tx@latest", "target": "fraud"}
    yard.train({**base, "estimator": "sklearn.linear_model.LogisticRegression"},
               aliases=("champion",))
    yard.train({**base, "estimator": "sklearn.dummy.DummyClassifier"})
    address = ray.get_runtime_context().gcs_address
    # half a CPU each: the run's cluster has 2, and a test before may still hold one
    server = Server(project, ["fraud@champion"], {"MODELYARD_RAY_ADDRESS": address},
                    "--backend", "ray", "--replicas", "2", "--replica-cpus", "0.5")
    try:
        server.wait_ready(240)  # Serve's controller, proxy and two replicas importing
        e = Env(project, yard, server)
        yield e
        e.http.close()
    finally:
        server.terminate(90)
        for stream in (server.proc.stdout, server.proc.stderr):
            if stream is not None:
                stream.close()
        yard.close()
        if _serve_running(ray):  # the command died without stopping Serve: do it here
            from ray import serve

            serve.shutdown()


def _serve_running(ray: Any) -> bool:
    try:
        ray.get_actor("SERVE_CONTROLLER_ACTOR", namespace="serve")
    except ValueError:
        return False
    return True


@pytest.mark.ray
@pytest.mark.slow
def test_two_replicas_answer_as_one_service(env: Env, tmp_path: Path) -> None:
    ready = env.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["workers"] == {"expected": 2, "ready": 2}
    before = env.requests_total()
    versions = {env.predict(i)["version"] for i in range(40)}
    assert versions == {1}
    # /metrics, whichever replica answers, counts every replica's answers, exactly
    for _ in range(4):
        assert env.requests_total() - before == 40
    # both replicas answered (each logs in files named with its pid)
    assert len(env.replica_pids(2)) == 2
    # a request that does not fit the signature: the same 422 as the uvicorn server's
    answer = env.http.post("/v1/models/fraud/predict", json=BAD)
    local: dict[str, Any] = {}

    async def ask(client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/models/fraud/predict", json=BAD)
        local.update(status=r.status_code, body=r.json())

    in_process(create_app(env.yard, ["fraud@champion"], log_root=tmp_path / "log"), ask)
    assert local["status"] == 422 and "amount" in local["body"]["message"]
    assert (answer.status_code, answer.json()) == (local["status"], local["body"])


@pytest.mark.ray
@pytest.mark.slow
def test_rollout_stats_and_feedback_merge_across_replicas(env: Env) -> None:
    rollout = env.yard.store.rollouts.start("fraud", champion_version=1, challenger_version=2,
                                            stage="canary", canary_share=0.5)
    try:
        deadline = time.monotonic() + 60
        while not ((r := env.stats()["rollout"]) and r["id"] == rollout.id
                   and r["challenger_loaded"]):  # every replica has loaded v2
            assert time.monotonic() < deadline, "the replicas never loaded v2"
            time.sleep(0.1)
        answered: dict[str, int] = {}
        for i in range(80):
            body = env.predict(i)
            answered[body["request_id"]] = body["version"]
        by_version = {v: sum(1 for a in answered.values() if a == v) for v in (1, 2)}
        assert min(by_version.values()) > 5, by_version
        for _ in range(4):  # every read, whichever replica answers it, counts each once
            got = env.stats()["versions"]
            assert {v: got[str(v)]["requests"] for v in (1, 2)} == by_version
        # each replica answered some: its own rows in the shared file (found through the
        # metrics folder in a replica's environment) count them
        per_replica = _rows_per_replica(env, rollout.id)
        assert len([n for n in per_replica.values() if n > 0]) == 2, per_replica
        assert sum(per_replica.values()) == len(answered)
        # labels reach the predictions of whichever replica made them
        items = [{"request_id": rid, "label": 1} for rid in answered]
        answer = env.http.post("/v1/models/fraud/feedback", json={"items": items})
        assert answer.status_code == 200, answer.text
        assert answer.json()["scored"] == len(answered)
        got = env.stats()["versions"]
        assert {v: got[str(v)]["labelled"] for v in (1, 2)} == by_version
    finally:
        env.yard.store.rollouts.end(rollout.id, outcome="rolled_back", reason="test")


def _rows_per_replica(env: Env, rollout: int) -> dict[int, int]:
    pid = min(env.replica_pids(2))
    environ = dict(e.split("=", 1) for e in Path(f"/proc/{pid}/environ").read_text(
        errors="replace").split("\0") if "=" in e)
    shared = Path(environ["PROMETHEUS_MULTIPROC_DIR"]).parent / "shared.db"
    with contextlib.closing(sqlite3.connect(shared)) as db:
        rows = db.execute("SELECT pid, body FROM stats WHERE rollout = ?", (rollout,)).fetchall()
    per_replica: dict[int, int] = {}
    for row_pid, body in rows:
        per_replica[row_pid] = per_replica.get(row_pid, 0) + json.loads(body)["requests"]
    return per_replica


@pytest.mark.ray
@pytest.mark.slow
def test_moving_the_alias_swaps_every_replica(env: Env) -> None:
    deadline = time.monotonic() + 60
    while env.stats()["rollout"] is not None:  # the rollout before has ended everywhere
        assert time.monotonic() < deadline
        time.sleep(0.1)
    env.yard.models.alias("fraud", "champion", 2)
    deadline = time.monotonic() + 60
    streak = 0
    while streak < 20:  # twenty answers in a row from v2: both replicas swapped
        assert time.monotonic() < deadline, "the replicas never answered with v2"
        streak = streak + 1 if env.predict(streak, "fraud@champion")["version"] == 2 else 0
    ready = env.http.get("/ready").json()
    assert ready["models"][0]["version"] == 2


@pytest.mark.ray
@pytest.mark.slow
def test_sigterm_stops_serve_and_every_prediction_is_logged(env: Env) -> None:
    import ray

    assert env.server.terminate(90) == 0, env.server.stderr()[-3000:]
    assert not _serve_running(ray)  # Serve is gone from the cluster, which keeps running
    files = env.log_files()
    assert files and all(p.suffix == ".parquet" and not p.name.startswith(".")
                         for p in files), [p.name for p in files]  # every stream closed
    assert sum(pq.read_metadata(p).num_rows for p in files) == env.answered


def test_backend_ray_without_ray_names_the_extra(tmp_path: Path) -> None:
    # a process of its own where `import ray` fails, as without the extra
    code = ("import sys\nsys.modules['ray'] = None\nfrom modelyard.cli import main\n"
            "main(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", code, "serve", "fraud@champion", "--backend",
                           "ray", "-C", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 8, done.stderr
    assert "pip install 'modelyard[ray]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / ".modelyard").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--replicas", "2"), "--replicas is for Ray Serve replicas: add --backend ray"),
    (("--replica-cpus", "1"), "--replica-cpus is for Ray Serve replicas"),
    (("--backend", "ray", "--workers", "2"), "with --backend ray use --replicas N"),
    (("--backend", "ray", "--replicas", "0"), "must be at least 1, not 0"),
    (("--backend", "spark"), "'spark' is not one of 'local', 'ray'"),
])
def test_options_that_do_not_fit_the_backend_are_usage_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
        message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "fraud@champion", "-C", str(tmp_path), *args])
    assert stopped.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err
    assert not (tmp_path / ".modelyard").exists()
