"""Getting, listing and deleting versions; lineage; gc frees deleted data."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from sqlalchemy.orm import Session

import modelyard
from modelyard.data import parse_ref
from modelyard.data._refs import describe_versions
from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.store._schema import ModelRow, ModelVersionRow, RunInputRow, RunRow


def _ingest(yard: modelyard.Yard, name: str, n: int) -> modelyard.store.DatasetVersion:
    return yard.datasets.ingest(pd.DataFrame({"v": list(range(n))}), name=name)


def _use_in_run(yard: modelyard.Yard, run_id: str, version_id: int, started: float) -> None:
    def add(session: Session) -> None:
        session.add(RunRow(id=run_id, name=run_id, experiment="default", status="finished",
                           start_time=started, heartbeat_at=started))
        session.flush()
        session.add(RunInputRow(run_id=run_id, dataset_version_id=version_id, role="train"))

    yard.store.db.write(add)


def _use_in_model(yard: modelyard.Yard, model: str, version_id: int) -> None:
    def add(session: Session) -> None:
        row = ModelRow(name=model, description="", created_at=time.time())
        session.add(row)
        session.flush()
        session.add(ModelVersionRow(model_id=row.id, version=1, dataset_version_id=version_id,
                                    blob_sha256="0" * 64, format="skops",
                                    created_at=time.time()))

    yard.store.db.write(add)


def test_refs_resolve_to_versions(yard: modelyard.Yard) -> None:
    v1, v2, v3 = (_ingest(yard, "fraud", n) for n in (1, 2, 3))
    assert yard.datasets.get("fraud") == v3
    assert yard.datasets.get("fraud@latest") == v3
    assert yard.datasets.get("fraud@2") == v2
    assert yard.datasets.get(v1) == v1
    assert [v.version for v in yard.datasets.versions("fraud")] == [1, 2, 3]
    assert [(d.name, d.latest_version) for d in yard.datasets.list()] == [("fraud", 3)]


def test_not_found_messages_say_what_exists(yard: modelyard.Yard) -> None:
    with pytest.raises(NotFound, match="no dataset 'fraud'; there are no datasets yet"):
        yard.datasets.get("fraud")
    for n in (1, 2, 3):
        _ingest(yard, "fraud", n)
    _ingest(yard, "churn", 1)
    with pytest.raises(NotFound, match=r"^no version 7 of dataset 'fraud'; it has versions 1-3$"):
        yard.datasets.get("fraud@7")
    with pytest.raises(NotFound, match="no dataset 'spam'; datasets: churn, fraud"):
        yard.datasets.get("spam@1")
    with pytest.raises(NotFound, match="no dataset 'spam'"):
        yard.datasets.versions("spam")
    with pytest.raises(InvalidInput, match="positive number or 'latest'"):
        yard.datasets.get("fraud@newest")
    with pytest.raises(InvalidInput, match="positive number"):
        yard.datasets.get("fraud@0")
    with pytest.raises(InvalidInput, match="not a valid dataset name"):
        yard.datasets.get("@3")


def test_runs_and_models_using_a_version(yard: modelyard.Yard) -> None:
    v1 = _ingest(yard, "fraud", 1)
    v2 = _ingest(yard, "fraud", 2)
    _use_in_run(yard, "run-b", v1.id, started=200.0)
    _use_in_run(yard, "run-a", v1.id, started=100.0)
    assert yard.datasets.runs_using("fraud@1") == ["run-a", "run-b"]
    assert yard.datasets.runs_using("fraud@2") == []
    _use_in_model(yard, "detector", v2.id)
    assert yard.datasets.models_using(v2) == ["detector/versions/1"]


def test_delete_refuses_versions_in_use(yard: modelyard.Yard) -> None:
    v1 = _ingest(yard, "fraud", 1)
    v2 = _ingest(yard, "fraud", 2)
    _use_in_run(yard, "run-a", v1.id, started=1.0)
    _use_in_model(yard, "detector", v2.id)
    with pytest.raises(Conflict, match=r"'fraud@1' is used by run\(s\) run-a; delete those"):
        yard.datasets.delete_version("fraud@1")
    with pytest.raises(Conflict, match=r"model version\(s\) detector/versions/1"):
        yard.datasets.delete_version(v2)
    with pytest.raises(InvalidInput, match="say which version of 'fraud'"):
        yard.datasets.delete_version("fraud")
    assert [v.version for v in yard.datasets.versions("fraud")] == [1, 2]


def test_delete_then_gc_frees_the_blob(yard: modelyard.Yard) -> None:
    v1 = _ingest(yard, "fraud", 1)
    v2 = _ingest(yard, "fraud", 2)
    yard.datasets.delete_version("fraud@1")
    assert [v.version for v in yard.datasets.versions("fraud")] == [2]
    with pytest.raises(NotFound, match="no version 1 of dataset 'fraud'; it has versions 2"):
        yard.datasets.get("fraud@1")
    report = yard.gc(grace_s=0)
    assert report.blobs_deleted == 1
    assert not yard.store.artifacts.exists(v1.blob_sha256)
    assert yard.store.artifacts.exists(v2.blob_sha256)
    assert yard.datasets.load("fraud")["v"].tolist() == [0, 1]
    yard.datasets.delete_version("fraud@2")
    assert yard.datasets.versions("fraud") == []
    with pytest.raises(NotFound, match="dataset 'fraud' has no versions"):
        yard.datasets.get("fraud")


def test_parse_ref_and_describe_versions() -> None:
    assert parse_ref("a.b-c_d@12") == ("a.b-c_d", 12)
    assert parse_ref("x@latest") == ("x", None)
    assert describe_versions([5, 1, 2, 3, 9, 10]) == "1-3, 5, 9-10"
    assert describe_versions([]) == ""
