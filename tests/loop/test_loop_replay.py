"""Replay of a version the loop made: the retrain's own spec (the champion's, with the
policy's keys over it, tuned again) is in its lineage, so the challenger is rebuilt from the
lineage alone with the registered numbers; a version whose data is gone, or whose dataset
version was deleted behind the registry's back, says so."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from _loopkit import make_frame, spec
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner

import modelyard
from modelyard.cli import app, main
from modelyard.errors import NotFound
from modelyard.loop import GatePolicy, Loop, Policy, RetrainPolicy, TriggerPolicy
from modelyard.registry import Lineage


def _champion_spec() -> dict[str, Any]:
    raw = spec("sklearn.linear_model.LogisticRegression", {"max_iter": 500})
    # (a tuned threshold replays in tests/recipes/test_recipe_replay.py: fraud's cost@10)
    raw["evaluation"] = {**raw["evaluation"], "cv": 2}
    raw["tune"] = {"params": {"C": {"low": 0.01, "high": 10.0, "log": True}}}
    return raw


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with threadpool_limits(1):  # BLAS on one thread: the machine's 2 cores are shared
        yield


def _loop_made(yard: modelyard.Yard) -> str:
    """Champion v1 on tx@1; the loop retrains it on tx@2 (tuned again, with the policy's
    own key over the champion's spec) and registers v2."""
    yard.datasets.ingest(make_frame(400), name="tx")
    yard.train(_champion_spec(), aliases=("champion",), tune_trials=2)
    loop = Loop(yard)
    loop.set_policy(Policy(
        "fraud", triggers=TriggerPolicy(new_data=True),
        retrain=RetrainPolicy(spec={"evaluation": {"test_size": 0.25}}, tune_trials=2),
        gate=GatePolicy(bootstrap_samples=100)))
    loop.run_once()
    yard.datasets.ingest(make_frame(500, seed=9), name="tx")
    loop.run_once()
    kinds = [e.kind for e in loop.history("fraud")]
    assert kinds[:3] == ["trigger", "retrain.started", "retrain.finished"], kinds
    made = yard.models.get("fraud/versions/2")
    assert made.dataset_ref == "tx@2"
    return made.ref


def test_a_version_the_loop_made_replays_with_its_numbers(yard: modelyard.Yard) -> None:
    ref = _loop_made(yard)
    made = yard.models.get(ref)
    lineage = Lineage.of(made)
    assert lineage.spec["test_size"] == 0.25 and lineage.spec["cv"] == 2
    run = yard.runs.get(made.run_id or "")
    assert run.tags["loop_cycle"] and run.params["best.C"]
    report = yard.replay(ref)
    assert report.reproduced, report.mismatches
    assert report.same_split is True and report.dataset == "tx@2"
    assert report.params == {"C": pytest.approx(float(run.params["best.C"]))}
    compared = {m.name: m for m in report.metrics if m.compared}
    assert {"roc_auc", "cv_roc_auc_mean"} <= set(compared)
    assert all(m.difference == 0 for m in compared.values())
    # the champion it replaced replays too, on its own data
    assert yard.replay("fraud/versions/1").reproduced
    # and from the command line, as JSON
    where = ["--project", str(yard.settings.project_dir)]
    if yard.settings.db_url:
        where += ["--db-url", yard.settings.db_url]
    result = CliRunner().invoke(app, ["models", "replay", ref, "--json", *where])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["reproduced"] is True and data["dataset"] == "tx@2"


def test_a_loop_version_whose_data_is_gone_says_so(yard: modelyard.Yard,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    if yard.settings.db_url:
        pytest.skip("the artifact store is the same on every metadata backend: once is enough")
    ref = _loop_made(yard)
    blob = yard.datasets.get("tx@2").blob_sha256
    removed = [p for p in yard.settings.project_dir.rglob(f"*{blob}*") if p.is_file()]
    if not removed:
        pytest.skip("the artifacts are not in the project folder (another artifact store)")
    for path in removed:
        path.unlink()
    with pytest.raises(NotFound, match=r"the data of tx@2 \(content [0-9a-f]{12}\), which "
                                       r"fraud/versions/2 was trained on, is gone from the "
                                       r"artifact store, so it cannot be replayed"):
        yard.replay(ref)
    assert [v.version for v in yard.models.versions("fraud")] == [1, 2]  # nothing made
    with pytest.raises(SystemExit) as exited:  # one red line, no traceback
        main(["models", "replay", ref, "--project", str(yard.settings.project_dir)])
    assert exited.value.code == NotFound.exit_code
    out = capsys.readouterr()
    assert "cannot be replayed" in out.err + out.out and "Traceback" not in out.err


def test_a_deleted_dataset_version_is_named(yard: modelyard.Yard) -> None:
    if yard.settings.db_url and not yard.settings.db_url.startswith("sqlite"):
        pytest.skip("deletes the row through SQLite, as an operator restoring a backup would")
    ref = _loop_made(yard)
    database = yard.settings.project_dir / ".modelyard" / "yard.db"
    yard.close()
    # the registry refuses to delete a dataset version a model uses; an operator working on
    # the database directly (a partial restore) is the way it happens
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        found = db.execute("DELETE FROM dataset_versions WHERE version = 2").rowcount
    assert found == 1
    deleted = (r"the dataset version fraud/versions/2 was trained on \(id \d+\) was "
               r"deleted, so it cannot be replayed")
    with modelyard.open(yard.settings.project_dir) as again, pytest.raises(NotFound,
                                                                          match=deleted):
        again.replay(ref)
