"""Schema upgrades run on open and keep the data; the ORM and the migrations agree."""

from __future__ import annotations

import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from modelyard.config import Settings
from modelyard.store import Database, open_store
from modelyard.store._schema import Base


def _url(settings: Settings) -> str:
    return settings.db_url or f"sqlite:///{settings.state_dir / 'yard.db'}"


def test_a_store_at_the_previous_revision_upgrades_with_its_data(settings: Settings) -> None:
    old = Database(_url(settings), migrate=False)
    old.upgrade("0001")
    assert old.revision() == "0001"
    now = time.time()
    with old.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO models (id, name, description, created_at) "
            "VALUES (1, 'fraud', 'old model', :t)"), {"t": now})
        conn.execute(text(
            "INSERT INTO model_versions (id, model_id, version, run_id, dataset_version_id, "
            "blob_sha256, format, flavor, signature_json, metrics_json, extra_json, "
            "code_version, created_at) VALUES (1, 1, 1, NULL, NULL, :sha, 'skops', "
            "'sklearn', '{}', '{\"f1\": 0.9}', '{}', 'abc123', :t)"), {"sha": "a" * 64, "t": now})
        conn.execute(text(
            "INSERT INTO aliases (model_id, alias, version_id, updated_at) "
            "VALUES (1, 'champion', 1, :t)"), {"t": now})
    old.dispose()

    store = open_store(settings)  # upgrades on open
    try:
        assert store.db.revision() == store.db.head() == "0008"
        with store.db.engine.connect() as conn:
            version = conn.execute(text(
                "SELECT version, metrics_json, code_version, description FROM model_versions"
            )).one()
            events = conn.execute(text(
                "SELECT alias, from_version, to_version FROM alias_events")).all()
            counter = conn.execute(text("SELECT last_version FROM models")).scalar()
        assert tuple(version) == (1, '{"f1": 0.9}', "abc123", "")
        assert counter == 1
        assert [tuple(e) for e in events] == [("champion", None, 1)]
    finally:
        store.close()


def test_the_orm_matches_the_migrated_schema(settings: Settings) -> None:
    store = open_store(settings)
    try:
        with store.db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        store.close()


def test_opening_twice_does_not_migrate_again(settings: Settings) -> None:
    first = open_store(settings)
    first.close()
    second = open_store(settings)
    try:
        assert second.db.revision() == second.db.head()
    finally:
        second.close()


def test_duplicate_windows_from_before_0006_keep_the_newest(settings: Settings) -> None:
    old = Database(_url(settings), migrate=False)
    old.upgrade("0005")
    with old.engine.begin() as conn:
        for n, (start, result) in enumerate([(0.0, "old"), (0.0, "new"), (60.0, "other")]):
            conn.execute(text(
                "INSERT INTO monitor_windows (model, version, window_start, window_end, "
                "n_predictions, n_labelled, result_json, created_at) VALUES ('m', 1, :s, "
                ":e, 5, 0, :r, :t)"), {"s": start, "e": start + 60, "r": f'"{result}"',
                                       "t": float(n)})
    old.dispose()
    store = open_store(settings)
    try:
        kept = store.monitoring.windows("m")
        assert [(w.window_start, w.result) for w in kept] == [(0.0, "new"), (60.0, "other")]
    finally:
        store.close()
