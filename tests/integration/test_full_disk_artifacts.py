"""A full disk (a small tmpfs) under the artifact store: registering a model or ingesting a
dataset fails with one clear error, nothing half-written is left or referenced, the store
stays consistent (``modelyard doctor`` finds no problem), and once there is room the same
call succeeds."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

import modelyard
from _tmpfs import small_tmpfs
from modelyard.errors import NotFound, StorageUnavailable
from modelyard.store import check_store


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs; skipped where mounting is not permitted, except under CI."""
    with small_tmpfs(tmp_path / "artifacts", "1m") as folder:
        yield folder


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_full_disk_refuses_the_artifact_and_leaves_the_store_consistent(
        tiny_disk: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((400, 8)), columns=[f"f{i}" for i in range(8)])
    y = pd.Series((X["f0"] > 0.5).astype(int))
    small = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    big = RandomForestClassifier(n_estimators=60, random_state=0).fit(X, y)  # > 1 MB
    with modelyard.open(tmp_path / "project", artifacts=str(tiny_disk)) as yard:
        first = yard.models.register("model", small, input_example=X.head(3))
        before = _files(tiny_disk)
        with pytest.raises(StorageUnavailable, match=r"artifact store .* is full \(No space "
                                                     r"left on device\).*free space"):
            yard.models.register("model", big, input_example=X.head(3))
        # nothing half-written left beside the blobs, and no version points at nothing
        assert _files(tiny_disk) == before
        assert [v.version for v in yard.models.versions("model")] == [first.version]
        with pytest.raises(NotFound):
            yard.models.get("model/versions/2")
        with pytest.raises(StorageUnavailable, match="is full"):
            yard.datasets.ingest(pd.DataFrame(rng.random((40_000, 8))), name="wide")
        assert _files(tiny_disk) == before
        with pytest.raises(NotFound):
            yard.datasets.get("wide")
        report = check_store(yard.store, repair=False, verify=True)
        assert report.problems == [] and report.missing == [] and report.corrupted == []
        assert (yard.models.load("model").predict(X.head(5)) == small.predict(X.head(5))).all()
        # room again: the same call succeeds
        subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)
        second = yard.models.register("model", big, input_example=X.head(3))
        assert second.version == first.version + 1
        assert (yard.models.load(f"model/versions/{second.version}").predict(X.head(20))
                == big.predict(X.head(20))).all()
        assert check_store(yard.store, repair=False, verify=True).problems == []


def test_a_full_disk_under_the_whole_project_loses_nothing_stored(tiny_disk: Path) -> None:
    """Database and artifacts on the same full disk: each attempt is one clear error, the
    versions stored before stay loadable, and after freeing space the next one registers."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.random((60, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] > 0.5).astype(int))
    with modelyard.open(tiny_disk / "project") as yard:
        first = yard.models.register("m", LogisticRegression().fit(X, y),
                                     input_example=X.head(2))
        fd = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        for c in (2.0, 3.0):
            with pytest.raises(StorageUnavailable, match="is full"):
                yard.models.register("m", LogisticRegression(C=c).fit(X, y),
                                     input_example=X.head(2))
        os.remove(tiny_disk / "filler")
        # (while the disk is full even a read fails, the same clear way: SQLite's WAL
        # needs room to open a connection)
        assert [v.version for v in yard.models.versions("m")] == [first.version]
        assert (yard.models.load("m").predict(X) == LogisticRegression().fit(X, y).predict(
            X)).all()
        second = yard.models.register("m", LogisticRegression(C=4.0).fit(X, y),
                                      input_example=X.head(2))
        assert second.version == first.version + 1
        report = check_store(yard.store, repair=False, verify=True)
        assert report.database == "ok" and report.problems == [] and report.artifacts == 2
