"""The metadata database: pragmas, error translation, contention."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from modelyard.errors import Conflict, InvalidInput, StorageUnavailable
from modelyard.store import Database
from modelyard.store._schema import BlobRow


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'y.db'}", busy_timeout_ms=1234)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    db.dispose()


def test_a_malformed_url_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="not a SQLAlchemy URL"):
        Database("not a url")


def test_an_unreachable_server_is_storage_unavailable() -> None:
    # A port nothing listens on (1 is reserved and closed on loopback).
    with pytest.raises(StorageUnavailable, match="MODELYARD_DB_URL"):
        Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_a_constraint_violation_is_a_conflict(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'y.db'}")
    db.write(lambda s: s.add(BlobRow(sha256="a" * 64, size=1, created_at=0.0)))
    with pytest.raises(Conflict):
        db.write(lambda s: s.add(BlobRow(sha256="a" * 64, size=1, created_at=0.0)))
    db.dispose()


def test_concurrent_writers_queue_instead_of_failing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'y.db'}")
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(40):
                db.write(lambda s, i=i: s.add(
                    BlobRow(sha256=f"{k:02d}{i:062d}", size=i, created_at=0.0)))
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM blobs")).scalar() == 160
    db.dispose()


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from modelyard.store._locations import MIGRATIONS, head_revision

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()
