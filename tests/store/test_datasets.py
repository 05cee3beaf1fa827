"""DatasetRepository: the SQL of datasets, their versions and lineage reads."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.orm import Session

from modelyard.errors import Conflict
from modelyard.store import Dataset, DatasetVersion, Store
from modelyard.store._schema import RunInputRow, RunRow


def _add(store: Store, name: str, content: str, **kw: object) -> tuple[DatasetVersion, bool]:
    args: dict[str, object] = {
        "name": name, "description": "", "content_hash": content.ljust(64, "0"),
        "blob_sha256": "b" * 64, "n_rows": 3, "n_columns": 2,
        "schema": {"n_rows": 3, "columns": [{"name": "a", "type": "integer"}]},
        "source": "test",
    }
    args.update(kw)
    return store.datasets.add_version(**args)  # type: ignore[arg-type]


def test_versions_are_numbered_and_deduplicated_by_content(store: Store) -> None:
    v1, created1 = _add(store, "d", "a", description="first")
    v2, created2 = _add(store, "d", "b")
    same, created3 = _add(store, "d", "a")
    other, _ = _add(store, "e", "a")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert (created1, created2, created3) == (True, True, False)
    assert same == v1
    assert isinstance(v1, DatasetVersion) and v1.schema["columns"][0]["type"] == "integer"
    assert v1.ref == "d@1" and v1.source == "test" and v1.n_rows == 3


def test_reads_return_frozen_records(store: Store) -> None:
    assert store.datasets.get_dataset("d") is None
    assert store.datasets.get_version("d", None) is None
    assert store.datasets.list_versions("d") == []
    v1, _ = _add(store, "d", "a", description="about d")
    _add(store, "d", "b")
    _add(store, "c", "a")
    dataset = store.datasets.get_dataset("d")
    assert isinstance(dataset, Dataset)
    assert (dataset.name, dataset.description, dataset.latest_version) == ("d", "about d", 2)
    assert [(d.name, d.latest_version) for d in store.datasets.list_datasets()] == [
        ("c", 1), ("d", 2)
    ]
    assert store.datasets.get_version("d", None).version == 2  # type: ignore[union-attr]
    assert store.datasets.get_version("d", 1) == v1
    assert store.datasets.get_version("d", 3) is None
    assert store.datasets.get_version_by_id(v1.id) == v1
    assert store.datasets.get_version_by_id(10_000) is None
    assert store.datasets.find_by_hash("d", "a".ljust(64, "0")) == v1
    assert store.datasets.find_by_hash("d", "z".ljust(64, "0")) is None
    assert store.datasets.version_numbers("d") == [1, 2]
    with pytest.raises(AttributeError):
        v1.version = 5  # type: ignore[misc]


def test_description_is_kept_unless_replaced(store: Store) -> None:
    _add(store, "d", "a", description="first")
    _add(store, "d", "b")
    assert store.datasets.get_dataset("d").description == "first"  # type: ignore[union-attr]
    _add(store, "d", "c", description="second")
    assert store.datasets.get_dataset("d").description == "second"  # type: ignore[union-attr]


def test_racing_writers_never_share_a_number(store: Store) -> None:
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            for j in range(3):
                _add(store, "race", f"{i}{j}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.datasets.version_numbers("race") == list(range(1, 19))


def test_lineage_and_guarded_delete(store: Store) -> None:
    v1, _ = _add(store, "d", "a")
    v2, _ = _add(store, "d", "b")

    def use(session: Session) -> None:
        now = time.time()
        session.add(RunRow(id="r1", name="r1", experiment="default", status="finished",
                           start_time=now, heartbeat_at=now))
        session.flush()
        session.add(RunInputRow(run_id="r1", dataset_version_id=v1.id, role="train"))
        session.add(RunInputRow(run_id="r1", dataset_version_id=v1.id, role="eval"))

    store.db.write(use)
    assert store.datasets.runs_using(v1.id) == ["r1"]  # once, though used in two roles
    assert store.datasets.models_using(v1.id) == []
    with pytest.raises(Conflict, match=r"'d@1' is used by run\(s\) r1"):
        store.datasets.delete_version(v1.id)
    store.datasets.delete_version(v2.id)
    store.datasets.delete_version(v2.id)  # already gone: nothing to do
    assert store.datasets.version_numbers("d") == [1]


def test_a_deleted_version_number_is_never_given_again(store: Store) -> None:
    _add(store, "d", "a")
    v2, _ = _add(store, "d", "b")
    store.datasets.delete_version(v2.id)
    v3, created = _add(store, "d", "c")
    assert created and v3.version == 3
    assert store.datasets.version_numbers("d") == [1, 3]
