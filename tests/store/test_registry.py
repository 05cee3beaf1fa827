"""The registry's repository: numbering under races, frozen records, alias events."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import func, select

from modelyard.errors import Conflict, NotFound
from modelyard.store import ModelRepository, ModelVersion, Store
from modelyard.store._registry import describe_numbers
from modelyard.store._schema import AliasEventRow, ModelRow

SHA = "a" * 64


def _new(repo: ModelRepository, name: str) -> ModelVersion:
    return repo.create_version(name, blob_sha256=SHA, format="skops", flavor="x.Y",
                               signature={"outputs": {}}, metrics={"auc": 0.5},
                               extra={"blobs": []}, description="d")


def test_describe_numbers_compresses_ranges() -> None:
    assert describe_numbers([]) == ""
    assert describe_numbers([3, 1, 2, 5, 7, 8]) == "1-3, 5, 7-8"


def test_versions_number_per_model_and_records_are_frozen(store: Store) -> None:
    repo = store.models
    a1, a2, b1 = _new(repo, "a"), _new(repo, "a"), _new(repo, "b")
    assert [(v.model, v.version) for v in (a1, a2, b1)] == [("a", 1), ("a", 2), ("b", 1)]
    assert a1.metrics == {"auc": 0.5} and a1.extra == {"blobs": []}
    assert repo.get_version("a", 2) == a2
    assert repo.latest_version("a") == a2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a1.version = 5  # type: ignore[misc]


def test_racing_writers_creating_one_model_get_distinct_numbers(store: Store) -> None:
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(_new(store.models, "race").version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == list(range(1, 9))
    with store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ModelRow)) == 1


def test_a_conflict_that_is_no_race_is_not_retried(store: Store) -> None:
    calls = []

    def fn(session: object) -> None:
        calls.append(1)
        raise Conflict("refused")

    with pytest.raises(Conflict, match="refused"):
        store.models._write_racing(fn)
    assert calls == [1]


def test_alias_moves_return_their_event(store: Store) -> None:
    repo = store.models
    _new(repo, "m"), _new(repo, "m")
    first = repo.set_alias("m", "champion", 1, "r1")
    assert first is not None and (first.from_version, first.to_version) == (None, 1)
    assert repo.set_alias("m", "champion", 1) is None
    moved = repo.set_alias("m", "champion", 2, "r2")
    assert moved is not None and (moved.from_version, moved.to_version) == (1, 2)
    assert repo.get_version("m", 2).aliases == ("champion",)
    removed = repo.remove_alias("m", "champion", "done")
    assert (removed.from_version, removed.to_version) == (2, None)
    assert [e.reason for e in repo.alias_history("m")] == ["r1", "r2", "done"]


def test_delete_model_removes_everything_it_owns(store: Store) -> None:
    repo = store.models
    _new(repo, "m"), _new(repo, "m"), _new(repo, "keep")
    repo.set_alias("m", "champion", 2)
    deleted = repo.delete_model("m")
    assert [v.version for v in deleted] == [1, 2] and deleted[1].aliases == ("champion",)
    assert [m.name for m in repo.list_models()] == ["keep"]
    with store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AliasEventRow)) == 0
    with pytest.raises(NotFound, match="registered models: keep"):
        repo.get_model("m")
    with pytest.raises(NotFound, match="no run 'r'"):
        repo.run_git_commit("r")
    with pytest.raises(NotFound, match="no run 'r'"):
        repo.create_version("x", blob_sha256=SHA, format="skops", run_id="r")
    with pytest.raises(NotFound, match="no dataset version with id 5"):
        repo.create_version("x", blob_sha256=SHA, format="skops", dataset_version_id=5)
    assert [m.name for m in repo.list_models()] == ["keep"]


def test_gc_keeps_blobs_that_versions_reference(store: Store) -> None:
    sha, _ = store.put_blob_bytes(b"model")
    extra_sha, _ = store.put_blob_bytes(b"extra file")
    store.models.create_version("m", blob_sha256=sha, format="skops",
                                extra={"blobs": [extra_sha]})
    assert store.gc(grace_s=0).blobs_deleted == 0
    store.models.delete_version("m", 1)
    assert store.gc(grace_s=0).blobs_deleted == 2
    assert not store.artifacts.exists(sha) and not store.artifacts.exists(extra_sha)


def test_a_deleted_version_number_is_never_given_again(store: Store) -> None:
    repo = store.models
    _new(repo, "m"), _new(repo, "m")
    repo.delete_version("m", 2)
    assert _new(repo, "m").version == 3
    assert [v.version for v in repo.list_versions("m")] == [1, 3]
