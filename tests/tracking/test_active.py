"""ActiveRun: logging params, metrics, tags, artifacts and inputs, and how runs end."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

import modelyard
from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.store._schema import DatasetRow, DatasetVersionRow
from modelyard.tracking import ActiveRun, active_run


def test_a_run_records_params_metrics_tags_and_ends_finished(yard: modelyard.Yard) -> None:
    with yard.run("baseline", experiment="fraud", tags={"team": "risk"}) as run:
        assert isinstance(run, ActiveRun) and len(run.id) == 32 and run.name == "baseline"
        run.log_param("C", 1.0)
        run.log_params({"penalty": "l2", "max_iter": 100})
        run.set_tag("stage", "dev")
        for i in range(5):
            run.log_metric("loss", 1 / (i + 1))
        run.log_metrics({"acc": 0.9, "f1": np.float32(0.5)}, step=7)
        assert run.status == "running"
    got = yard.runs.get(run.id)
    assert got.status == "finished" and got.end_time is not None and got.failure == ""
    assert got.experiment == "fraud"
    assert got.params == {"C": "1.0", "max_iter": "100", "penalty": "l2"}
    assert got.tags == {"stage": "dev", "team": "risk"}
    assert got.metrics == {"acc": 0.9, "f1": 0.5, "loss": 0.2}
    assert [m.step for m in yard.runs.metric_history(run.id, "loss")] == [0, 1, 2, 3, 4]
    assert [m.step for m in yard.runs.metric_history(run.id, "acc")] == [7]


def test_default_name_and_environment(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        pass
    got = yard.runs.get(run.id)
    assert got.name == f"run-{run.id[:8]}"
    assert got.environment["python"].count(".") == 2
    assert "numpy" in got.environment["packages"]
    assert "scikit-learn" in got.environment["packages"]
    assert got.pid > 0 and got.host


def test_steps_auto_increment_per_key_and_follow_explicit_steps(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        run.log_metric("a", 1.0)
        run.log_metric("a", 2.0, step=10)
        run.log_metric("a", 3.0)
        run.log_metric("a", 4.0, step=3)  # going back does not rewind the counter
        run.log_metric("a", 5.0)
        run.log_metric("b", 1.0, step=np.int64(4))  # type: ignore[arg-type]
        run.log_metric("c", 1.0, timestamp=123.0)
    steps = [(m.step, m.value) for m in yard.runs.metric_history(run.id, "a")]
    assert steps == [(0, 1.0), (3, 4.0), (10, 2.0), (11, 3.0), (12, 5.0)]
    assert yard.runs.metric_history(run.id, "b")[0].step == 4
    assert yard.runs.metric_history(run.id, "c")[0].timestamp == 123.0


def test_nan_and_inf_are_values_but_text_is_not(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        run.log_metric("x", math.nan)
        run.log_metric("x", -math.inf)
        run.log_metric("x", 3)
        with pytest.raises(InvalidInput, match="not a number"):
            run.log_metric("x", "0.5")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="not a number"):
            run.log_metric("x", None)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="not a number"):
            run.log_metric("x", [1.0])  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="key"):
            run.log_metric("", 1.0)
        with pytest.raises(InvalidInput, match="not an integer"):
            run.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="not a number"):
            run.log_metrics({"ok": 1.0, "bad": "x"})  # type: ignore[dict-item]
    values = [m.value for m in yard.runs.metric_history(run.id, "x")]
    assert math.isnan(values[0]) and values[1:] == [-math.inf, 3.0]
    assert yard.runs.metric_history(run.id, "ok") == []  # nothing of a bad batch


def test_param_keys_and_conflicts(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)
        with pytest.raises(Conflict, match="params are immutable"):
            run.log_param("lr", 0.2)
        with pytest.raises(InvalidInput, match="key"):
            run.log_param(" ", 1)
        with pytest.raises(InvalidInput, match="limit is 250"):
            run.set_tag("k" * 300, 1)


def test_an_exception_fails_the_run_and_keeps_the_message(yard: modelyard.Yard) -> None:
    with pytest.raises(ValueError, match="diverged"), yard.run("bad") as run:
        run.log_metric("loss", 1.0)
        raise ValueError("loss diverged")
    got = yard.runs.get(run.id)
    assert got.status == "failed"
    assert got.failure.startswith("ValueError: loss diverged")
    assert "Traceback" in got.failure
    assert got.metrics == {"loss": 1.0}


def test_keyboard_interrupt_marks_the_run_killed(yard: modelyard.Yard) -> None:
    with pytest.raises(KeyboardInterrupt), yard.run() as run:
        raise KeyboardInterrupt
    assert yard.runs.get(run.id).status == "killed"


def test_end_is_idempotent_and_logging_after_it_is_refused(yard: modelyard.Yard) -> None:
    run = yard.run("manual")
    run.log_metric("m", 1.0)
    run.end()
    run.end("failed")
    assert yard.runs.get(run.id).status == "finished"
    with pytest.raises(Conflict, match="has ended"):
        run.log_metric("m", 2.0)
    with pytest.raises(Conflict, match="has ended"):
        run.log_param("p", 1)
    run.set_tag("reviewed", "yes")  # tags may still change
    assert yard.runs.get(run.id).tags == {"reviewed": "yes"}
    with pytest.raises(InvalidInput, match="status"):
        yard.run().end("done")


def test_child_runs_nest_and_end_with_their_parent(yard: modelyard.Yard) -> None:
    with yard.run("tune", experiment="hpo") as parent:
        with parent.child("trial-0") as trial:
            trial.log_metric("score", 0.8)
        open_child = parent.child()
    got = yard.runs.get(trial.id)
    assert got.parent_id == parent.id and got.experiment == "hpo"
    assert got.environment == yard.runs.get(parent.id).environment
    assert yard.runs.get(open_child.id).status == "finished"
    assert {r.id for r in yard.runs.list(parent_id=parent.id)} == {trial.id, open_child.id}


def test_active_run_is_a_thread_local_stack(yard: modelyard.Yard) -> None:
    assert active_run() is None
    with yard.run() as outer:
        assert active_run() is outer
        with outer.child() as inner:
            assert active_run() is inner
        assert active_run() is outer
    assert active_run() is None


def test_artifacts_files_folders_and_json(yard: modelyard.Yard, tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("weights")
    (tmp_path / "plots" / "sub").mkdir(parents=True)
    (tmp_path / "plots" / "roc.png").write_bytes(b"png")
    (tmp_path / "plots" / "sub" / "pr.png").write_bytes(b"png2")
    with yard.run() as run:
        [art] = run.log_artifact(tmp_path / "model.txt")
        assert art.path == "model.txt" and art.size == 7
        run.log_artifact(tmp_path / "plots", name="figures")
        run.log_dict({"threshold": 0.4}, "config/params.json")
        with pytest.raises(InvalidInput, match="no such file"):
            run.log_artifact(tmp_path / "missing")
        with pytest.raises(InvalidInput, match="relative path"):
            run.log_artifact(tmp_path / "model.txt", name="../escape")
        with pytest.raises(InvalidInput, match="JSON"):
            run.log_dict({"x": object()}, "bad.json")
    got = yard.runs.get(run.id)
    assert [a.path for a in got.artifacts] == [
        "config/params.json", "figures/roc.png", "figures/sub/pr.png", "model.txt"]
    out = yard.runs.download_artifact(run.id, "config/params.json", tmp_path)
    assert out == tmp_path / "params.json" and json.loads(out.read_text()) == {"threshold": 0.4}
    folder = yard.runs.download_artifact(run.id, "figures", tmp_path / "dl")
    assert (folder / "sub" / "pr.png").read_bytes() == b"png2"
    single = yard.runs.download_artifact(run.id, "model.txt", tmp_path / "copy.txt")
    assert single.read_text() == "weights"
    with pytest.raises(NotFound, match=r"it has: config/params\.json"):
        yard.runs.download_artifact(run.id, "nope", tmp_path)


def _dataset_version(yard: modelyard.Yard) -> int:
    def write(session: Session) -> int:
        ds = DatasetRow(name="iris", description="", created_at=time.time())
        session.add(ds)
        session.flush()
        dv = DatasetVersionRow(dataset_id=ds.id, version=2, content_hash="c" * 64,
                               blob_sha256="b" * 64, n_rows=1, n_columns=1, schema_json="{}",
                               source="", created_at=time.time())
        session.add(dv)
        session.flush()
        return dv.id

    result: int = yard.store.db.write(write)
    return result


def test_log_input_records_lineage(yard: modelyard.Yard) -> None:
    dv = _dataset_version(yard)

    class Version:  # stands in for a DatasetVersion record
        id = dv

    with yard.run() as run:
        run.log_input(Version(), role="train")
        run.log_input(dv, role="test")
        with pytest.raises(NotFound, match="dataset version"):
            run.log_input(dv + 100)
        with pytest.raises(InvalidInput, match="DatasetVersion"):
            run.log_input("iris@2")
        with pytest.raises(InvalidInput, match="role"):
            run.log_input(dv, role="")
    assert [(i.dataset_ref, i.role) for i in yard.runs.get(run.id).inputs] == [
        ("iris@2", "test"), ("iris@2", "train")]


def test_info_writes_buffered_metrics_first(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        run.log_metric("m", 4.0)
        assert run.info.metrics == {"m": 4.0}
        assert yard.runs.get(run.id).status == "running"
