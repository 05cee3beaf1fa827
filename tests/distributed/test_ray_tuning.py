"""Tuning on Ray: trials in parallel on the cluster's workers, each a child run, the best
refitted and registered; a killed worker loses no trial; a killed tuning job continues
where it stopped; a running cluster is joined by address."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import tomli_w
from _raykit import processes_mentioning, tuned_spec

import modelyard
from modelyard.distributed import RayCluster, RayExecutor
from modelyard.store import Run
from modelyard.train import TrainResult, study_storage, train

pytestmark = pytest.mark.ray


def _storage(yard: modelyard.Yard) -> str | None:
    return study_storage(yard.store.db.engine.url.render_as_string(hide_password=False))


def _trials(yard: modelyard.Yard, run_id: str) -> list[Run]:
    return yard.runs.list(parent_id=run_id, limit=100)


def _complete(yard: modelyard.Yard, run_id: str) -> int:
    study = optuna.load_study(study_name=yard.runs.get(run_id).tags["tune.study"],
                              storage=_storage(yard))
    return len([t for t in study.trials if t.state.name == "COMPLETE"])


def test_trials_run_in_parallel_on_ray_and_a_killed_worker_loses_none(
        lake: modelyard.Yard, ray_cluster: RayCluster) -> None:
    outcome: dict[str, object] = {}

    def tune() -> None:
        try:
            outcome["result"] = train(lake, tuned_spec(6, executor="ray"),
                                      executor=RayExecutor(ray_cluster),
                                      study_storage=_storage(lake), aliases=("champion",))
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    tuning = threading.Thread(target=tune)
    tuning.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and tuning.is_alive() and time.monotonic() < deadline:
        busy = processes_mentioning("ray::_cv_score")  # a Ray worker running a trial
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)  # a worker of the cluster this run started
        time.sleep(0.05)
    tuning.join(timeout=240)
    assert killed is not None, "no trial was seen running on a Ray worker"
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert isinstance(result, TrainResult)
    # every trial is a finished child run with its params and score: Ray ran the killed
    # worker's trial again, and no finished one was lost
    trials = _trials(lake, result.run_id)
    assert len(trials) == 6 and {t.status for t in trials} == {"finished"}
    assert all({"n_estimators", "max_depth"} <= set(t.params) and "cv_score" in t.metrics
               for t in trials)
    assert _complete(lake, result.run_id) == 6
    # two CPUs, two trials at a time: some trials ran while another was running
    spans = sorted((t.start_time, t.end_time or 0.0) for t in trials)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    parent = lake.runs.get(result.run_id)
    assert parent.tags["tune.executor"] == "ray" and parent.tags["tune.slots"] == "2"
    # the best trial's parameters are the ones the registered version was refitted with
    best = max(trials, key=lambda t: t.metrics["cv_score"])
    assert {k: int(float(best.params[k])) for k in ("n_estimators", "max_depth")} == \
        result.best_params
    fitted = lake.models.load("fraud@champion").model.steps[-1][1]
    assert (fitted.n_estimators, fitted.max_depth) == (
        result.best_params["n_estimators"], result.best_params["max_depth"])


def test_a_killed_tuning_job_continues_where_it_stopped(
        lake: modelyard.Yard, ray_cluster: RayCluster, tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(tomli_w.dumps(tuned_spec(6)), encoding="utf-8")
    log = tmp_path / "job.log"
    with log.open("wb") as out:
        job = subprocess.Popen([sys.executable, "-m", "modelyard", "train", str(spec_file),
                                "-C", str(tmp_path)], stdout=out, stderr=subprocess.STDOUT)
        try:
            first = _wait_for_finished_trials(lake, job, log, at_least=2)
        finally:
            job.kill()  # the tuning job dies mid-study (SIGKILL: nothing is cleaned up)
            job.wait(timeout=30)
    # the same training again, this time on Ray: it continues the study
    result = train(lake, str(spec_file), executor=RayExecutor(ray_cluster),
                   study_storage=_storage(lake))
    parent = lake.runs.get(result.run_id)
    resumed = int(parent.tags["tune.resumed_trials"])
    assert resumed >= first >= 2
    # the killed job's finished trials are kept (as its child runs); only the rest ran here
    assert len([t for t in _trials(lake, result.run_id) if t.status == "finished"]) == \
        6 - resumed
    assert _complete(lake, result.run_id) == 6
    assert result.model_version.ref == "fraud/versions/1"


def _wait_for_finished_trials(yard: modelyard.Yard, job: subprocess.Popen[bytes], log: Path,
                              *, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if job.poll() is not None:
            raise AssertionError(f"the tuning job ended early: {log.read_text()[-2000:]}")
        parents = [r for r in yard.runs.list(limit=10) if r.name == "train-fraud"]
        if parents:
            done = [t for t in _trials(yard, parents[0].id) if t.status == "finished"]
            if len(done) >= at_least:
                return len(done)
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} trials finished in 120 s")


def test_a_running_cluster_is_joined_by_its_address(ray_cluster: RayCluster) -> None:
    address = ray_cluster.connect().get_runtime_context().gcs_address
    code = ("from modelyard.distributed import RayCluster\n"
            "c = RayCluster()\nprint(c.cpus(), c.started)\nc.close()\n")
    env = {**os.environ, "MODELYARD_RAY_ADDRESS": address}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["2", "False"]  # the test cluster's CPUs; not started

