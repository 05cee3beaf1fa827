"""RunRepository: the SQL of runs, params, tags, metrics, artifacts and lineage."""

from __future__ import annotations

import math
import time
import uuid

import pytest
from sqlalchemy.orm import Session

from modelyard.errors import Conflict, NotFound
from modelyard.store import Run, RunArtifact, Store
from modelyard.store._schema import DatasetRow, DatasetVersionRow, ModelRow, ModelVersionRow


def _new_run(store: Store, *, parent_id: str | None = None, name: str = "r",
             experiment: str = "default", start_time: float | None = None) -> Run:
    return store.runs.create(
        run_id=uuid.uuid4().hex, name=name, experiment=experiment, parent_id=parent_id,
        host="h", pid=1, pid_started_at=0.0, git_commit="abc",
        environment={"python": "3.11"}, tags={"team": "fraud"}, start_time=start_time,
    )


def _dataset_version(store: Store) -> int:
    def write(session: Session) -> int:
        ds = DatasetRow(name="fraud", description="", created_at=time.time())
        session.add(ds)
        session.flush()
        dv = DatasetVersionRow(dataset_id=ds.id, version=1, content_hash="c" * 64,
                               blob_sha256="b" * 64, n_rows=10, n_columns=2, schema_json="{}",
                               source="", created_at=time.time())
        session.add(dv)
        session.flush()
        return dv.id

    result: int = store.db.write(write)
    return result


def _register(store: Store, run_id: str, version: int = 1) -> None:
    def write(session: Session) -> None:
        model = session.query(ModelRow).filter_by(name="fraud").one_or_none()
        if model is None:
            model = ModelRow(name="fraud", description="", created_at=time.time())
            session.add(model)
            session.flush()
        session.add(ModelVersionRow(model_id=model.id, version=version, run_id=run_id,
                                    blob_sha256="d" * 64, format="skops",
                                    created_at=time.time()))

    store.db.write(write)


def test_create_then_get_returns_a_frozen_record(store: Store) -> None:
    run = _new_run(store, name="baseline")
    got = store.runs.get(run.id)
    assert got.name == "baseline" and got.status == "running" and got.end_time is None
    assert got.tags == {"team": "fraud"} and got.environment == {"python": "3.11"}
    assert got.git_commit == "abc"
    with pytest.raises(AttributeError):
        got.name = "x"  # type: ignore[misc]


def test_unknown_run_is_not_found_with_a_hint(store: Store) -> None:
    with pytest.raises(NotFound, match="32 hex"):
        store.runs.get("nope")
    with pytest.raises(NotFound, match="no run with id"):
        store.runs.get("0" * 32)


def test_unknown_parent_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="parent"):
        _new_run(store, parent_id="f" * 32)


def test_params_are_immutable_but_relogging_the_same_value_is_fine(store: Store) -> None:
    run = _new_run(store)
    store.runs.log_params(run.id, {"C": "1.0", "penalty": "l2"})
    store.runs.log_params(run.id, {"C": "1.0"})
    with pytest.raises(Conflict, match=r"'C'.*already '1\.0'"):
        store.runs.log_params(run.id, {"C": "2.0", "max_iter": "10"})
    assert store.runs.params(run.id) == {"C": "1.0", "penalty": "l2"}


def test_tags_are_upserted(store: Store) -> None:
    run = _new_run(store)
    store.runs.set_tags(run.id, {"team": "risk", "stage": "dev"})
    assert store.runs.get(run.id).tags == {"stage": "dev", "team": "risk"}


def test_bulk_metrics_latest_value_and_history(store: Store) -> None:
    run = _new_run(store)
    now = time.time()
    store.runs.insert_metrics([
        (run.id, "loss", 0.9, 0, now), (run.id, "loss", 0.5, 2, now),
        (run.id, "loss", 0.7, 1, now + 5), (run.id, "acc", math.nan, 0, now),
        (run.id, "acc", math.inf, 1, now),
    ])
    got = store.runs.get(run.id)
    assert got.metrics["loss"] == 0.5  # the latest step wins, not the latest time
    assert got.metrics["acc"] == math.inf
    history = store.runs.metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.7), (2, 0.5)]
    acc = store.runs.metric_history(run.id, "acc")
    assert math.isnan(acc[0].value) and acc[1].value == math.inf
    assert store.runs.metric_keys(run.id) == ["acc", "loss"]
    assert store.runs.max_steps(run.id) == {"acc": 1, "loss": 2}


def test_list_filters_and_orders_newest_first(store: Store) -> None:
    a = _new_run(store, experiment="x", start_time=100.0)
    b = _new_run(store, experiment="x", start_time=200.0)
    c = _new_run(store, experiment="y", start_time=300.0, parent_id=a.id)
    store.runs.end(b.id, status="finished")
    assert [r.id for r in store.runs.list()] == [c.id, b.id, a.id]
    assert [r.id for r in store.runs.list(experiment="x")] == [b.id, a.id]
    assert [r.id for r in store.runs.list(status="finished")] == [b.id]
    assert [r.id for r in store.runs.list(parent_id=a.id)] == [c.id]
    assert len(store.runs.list(limit=2)) == 2


def test_end_and_fail_dead(store: Store) -> None:
    a, b = _new_run(store), _new_run(store)
    store.runs.end(a.id, status="finished")
    assert [live.id for live in store.runs.live()] == [b.id]
    assert store.runs.fail_dead({a.id: "x", b.id: "process 1 on h died"}) == [b.id]
    got = store.runs.get(b.id)
    assert got.status == "failed" and got.failure == "process 1 on h died"
    assert store.runs.get(a.id).status == "finished"


def test_heartbeat_moves_only_running_runs(store: Store) -> None:
    a = _new_run(store)
    store.runs.heartbeat([a.id], at=time.time() + 100)
    assert store.runs.live()[0].heartbeat_at > time.time() + 50


def test_artifacts_and_inputs(store: Store) -> None:
    run = _new_run(store)
    store.runs.add_artifacts(run.id, [RunArtifact("a.txt", "1" * 64, 3)])
    store.runs.add_artifacts(run.id, [RunArtifact("a.txt", "2" * 64, 4)])
    assert store.runs.artifacts(run.id) == [RunArtifact("a.txt", "2" * 64, 4)]
    dv = _dataset_version(store)
    first = store.runs.add_input(run.id, dv, "train")
    assert store.runs.add_input(run.id, dv, "train") == first
    assert first.dataset_ref == "fraud@1"
    assert store.runs.get(run.id).inputs == (first,)
    with pytest.raises(NotFound, match="dataset version"):
        store.runs.add_input(run.id, 9999, "train")


def test_delete_cascades_to_children_and_returns_blobs(store: Store) -> None:
    parent = _new_run(store)
    child = _new_run(store, parent_id=parent.id)
    grandchild = _new_run(store, parent_id=child.id)
    store.runs.log_params(grandchild.id, {"k": "v"})
    store.runs.insert_metrics([(child.id, "m", 1.0, 0, time.time())])
    store.runs.add_artifacts(child.id, [RunArtifact("x", "3" * 64, 1)])
    assert store.runs.delete(parent.id) == ["3" * 64]
    for run_id in (parent.id, child.id, grandchild.id):
        assert not store.runs.exists(run_id)
    with pytest.raises(NotFound):
        store.runs.delete(parent.id)


def test_delete_refuses_a_run_a_model_version_came_from(store: Store) -> None:
    parent = _new_run(store)
    child = _new_run(store, parent_id=parent.id)
    _register(store, child.id, version=3)
    with pytest.raises(Conflict, match="model 'fraud' version 3"):
        store.runs.delete(parent.id)
    with pytest.raises(Conflict, match="model 'fraud' version 3"):
        store.runs.delete(child.id)
    assert store.runs.exists(parent.id) and store.runs.exists(child.id)
