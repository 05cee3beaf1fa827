"""``runs list`` reads a SQLite store without SQLAlchemy, and shows what the store shows."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from _backends import _pg_schema_url
from modelyard.config import load_settings
from modelyard.store import glance_runs


def _fill(yard: modelyard.Yard) -> None:
    for i in range(6):
        with yard.runs.start(experiment="a" if i % 2 else "b", name=f"r{i}") as run:
            run.log_params({"i": i})
            # out of order: the latest value is the one of the highest step
            run.log_metric("loss", 0.1 * i, step=5)
            run.log_metric("loss", 9.0, step=1)
            run.log_metric("acc", 0.5 + 0.01 * i)
    try:
        with yard.runs.start(experiment="a", name="broken"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass


def _listed(project: Path, *args: str) -> tuple[list[dict[str, object]], bool]:
    """``modelyard runs list --json ARGS`` in a fresh process: the runs, and whether the
    process imported SQLAlchemy."""
    code = ("import json, sys\nfrom modelyard.cli import main\n"
            "main(sys.argv[1:])\n"
            "print(json.dumps('sqlalchemy' in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code, "runs", "list", "--json", "-C",
                           str(project), *args], capture_output=True, text=True,
                          timeout=120, check=True)
    *body, imported = done.stdout.strip().splitlines()
    return json.loads("\n".join(body)), json.loads(imported)


def test_runs_list_reads_sqlite_without_sqlalchemy_and_matches_the_store(
        tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        _fill(yard)
        for which in ({}, {"experiment": "a"}, {"status": "failed"}, {"limit": 2}):
            stored = yard.runs.list(**which)  # type: ignore[arg-type]
            glanced = glance_runs(yard.settings, **which)  # type: ignore[arg-type]
            assert glanced is not None
            assert [(r.id, r.name, r.status, r.metrics) for r in glanced] == [
                (r.id, r.name, r.status, r.metrics) for r in stored]
        newest_done = yard.runs.list(status="finished", limit=1)[0]
        assert newest_done.metrics == {"acc": 0.55, "loss": pytest.approx(0.5)}
        newest = yard.runs.list(limit=3)
    runs, imported = _listed(tmp_path, "--limit", "3")
    assert not imported
    assert [r["id"] for r in runs] == [r.id for r in newest]
    assert runs[1]["metrics"] == newest[1].metrics == newest_done.metrics
    assert runs[1]["duration_s"] is not None
    failed, _ = _listed(tmp_path, "--status", "failed")
    assert [r["name"] for r in failed] == ["broken"]


def test_an_older_schema_is_opened_as_usual_and_migrated(tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        _fill(yard)
        db = Path(yard.settings.state_dir, "yard.db")
    with sqlite3.connect(db) as conn:  # as if written by another release
        (current,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    assert glance_runs(load_settings(tmp_path)) is None
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (current,))
    assert glance_runs(load_settings(tmp_path)) is not None
    # a database the glance cannot read is the store's to open: a missing file is created
    fresh = tmp_path / "fresh"
    assert glance_runs(load_settings(fresh)) is None
    runs, imported = _listed(fresh)
    assert runs == [] and imported
    assert (fresh / ".modelyard" / "yard.db").is_file()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_schema_url()


@pytest.mark.postgres
def test_runs_list_on_postgresql_goes_through_the_store(tmp_path: Path, pg_url: str) -> None:
    url = pg_url
    with modelyard.open(tmp_path, db_url=url) as yard:
        _fill(yard)
        assert glance_runs(yard.settings) is None
        newest = [r.id for r in yard.runs.list(experiment="b")]
    runs, imported = _listed(tmp_path, "--db-url", url, "--experiment", "b")
    assert imported and [r["id"] for r in runs] == newest
