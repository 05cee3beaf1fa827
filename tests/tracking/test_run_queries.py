"""Runs: get, list, delete, reap, close."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import modelyard
from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.store._schema import ModelRow, ModelVersionRow
from modelyard.tracking._environment import pid_start_time, process_identity


def _fake_run(yard: modelyard.Yard, *, host: str, pid: int, started: float,
              heartbeat_age_s: float = 0.0) -> str:
    run_id = uuid.uuid4().hex
    yard.store.runs.create(run_id=run_id, name="ghost", experiment="default", parent_id=None,
                           host=host, pid=pid, pid_started_at=started, git_commit="",
                           environment={}, start_time=time.time() - heartbeat_age_s)
    return run_id


def test_unknown_ids_are_not_found(yard: modelyard.Yard) -> None:
    for call in (lambda: yard.runs.get("0" * 32),
                 lambda: yard.runs.metric_history("0" * 32, "m"),
                 lambda: yard.runs.delete("0" * 32),
                 lambda: yard.runs.download_artifact("0" * 32, "x", "."),
                 lambda: yard.run(parent_id="0" * 32)):
        with pytest.raises(NotFound, match=r"no (parent )?run"):
            call()


def test_list_filters_newest_first_and_validates(yard: modelyard.Yard) -> None:
    ids = []
    for i in range(3):
        with yard.run(f"r{i}", experiment="a" if i < 2 else "b") as run:
            ids.append(run.id)
        time.sleep(0.002)
    assert [r.id for r in yard.runs.list()] == ids[::-1]
    assert [r.name for r in yard.runs.list(experiment="a")] == ["r1", "r0"]
    assert [r.name for r in yard.runs.list(limit=1)] == ["r2"]
    assert yard.runs.list(status="failed") == []
    with pytest.raises(InvalidInput, match="status"):
        yard.runs.list(status="done")
    with pytest.raises(InvalidInput, match="limit"):
        yard.runs.list(limit=0)
    with pytest.raises(InvalidInput, match="experiment"):
        yard.run(experiment="")


def test_list_shows_live_metrics_of_open_runs(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        run.log_metric("m", 1.5)
        [listed] = yard.runs.list()
        assert listed.metrics == {"m": 1.5} and listed.status == "running"


def test_delete_cascades_and_gc_frees_artifacts(yard: modelyard.Yard, tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"only this run has these bytes")
    with yard.run() as parent, parent.child() as child:
        child.log_artifact(tmp_path / "f.bin")
        child.log_metric("m", 1.0)
    assert yard.gc(grace_s=0).blobs_deleted == 0
    yard.runs.delete(parent.id)
    for run_id in (parent.id, child.id):
        with pytest.raises(NotFound):
            yard.runs.get(run_id)
    assert yard.gc(grace_s=0).blobs_deleted == 1


def test_delete_refuses_running_and_registered_runs(yard: modelyard.Yard) -> None:
    with yard.run() as run, pytest.raises(Conflict, match="still running"):
        yard.runs.delete(run.id)

    def register(session: Session) -> None:
        model = ModelRow(name="fraud", description="", created_at=time.time())
        session.add(model)
        session.flush()
        session.add(ModelVersionRow(model_id=model.id, version=2, run_id=run.id,
                                    blob_sha256="d" * 64, format="skops",
                                    created_at=time.time()))

    yard.store.db.write(register)
    with pytest.raises(Conflict, match="model 'fraud' version 2"):
        yard.runs.delete(run.id)


def test_reap_marks_runs_of_dead_processes_failed(yard: modelyard.Yard) -> None:
    host, me, my_start = process_identity()
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(done.stdout)
    gone = _fake_run(yard, host=host, pid=dead_pid, started=time.time())
    recycled = _fake_run(yard, host=host, pid=me, started=my_start - 1000)
    alive = _fake_run(yard, host=host, pid=me, started=my_start)
    beat = 4 * yard.settings.run_heartbeat_s
    stale = _fake_run(yard, host="elsewhere", pid=7, started=1.0, heartbeat_age_s=beat + 5)
    fresh = _fake_run(yard, host="elsewhere", pid=8, started=1.0, heartbeat_age_s=beat - 5)
    assert sorted(yard.runs.reap()) == sorted([gone, recycled, stale])
    assert yard.runs.reap() == []
    got = yard.runs.get(gone)
    assert got.status == "failed" and got.failure == f"process {dead_pid} on {host} died"
    assert got.end_time is not None
    assert "no heartbeat" in yard.runs.get(stale).failure
    assert yard.runs.get(recycled).status == "failed"
    assert yard.runs.get(alive).status == "running"
    assert yard.runs.get(fresh).status == "running"


def test_pid_start_time_is_stable() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    first = pid_start_time(os.getpid())
    assert first > 0 and abs(first - pid_start_time(os.getpid())) < 0.02
    assert first <= time.time()


def test_close_ends_open_runs_of_this_yard(yard: modelyard.Yard) -> None:
    run = yard.run()
    child = run.child()
    run.log_metric("m", 2.0)
    yard.runs.close()
    assert run.status == child.status == "finished"
    assert yard.runs.get(run.id).metrics == {"m": 2.0}
    assert yard.runs.get(child.id).status == "finished"
