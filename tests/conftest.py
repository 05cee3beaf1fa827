"""Shared fixtures: a fresh store per test, on SQLite and, when the test script started one,
on a real PostgreSQL server (``MODELYARD_TEST_PG_URL``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.config import Settings, load_settings
from modelyard.store import Store, open_store

PG_URL = os.environ.get("MODELYARD_TEST_PG_URL", "")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MODELYARD_") and key != "MODELYARD_TEST_PG_URL":
            monkeypatch.delenv(key)


def _pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("no PostgreSQL server: run the suite through scripts/test.sh")
    from sqlalchemy import create_engine, text

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh project folder, on each metadata backend."""
    if request.param == "postgres":
        gen = _pg_schema_url()
        url = next(gen)
        yield load_settings(tmp_path, db_url=url)
        next(gen, None)
    else:
        yield load_settings(tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A fresh store (SQLite file in tmp_path, or a fresh PostgreSQL schema)."""
    st = open_store(settings)
    yield st
    st.close()


@pytest.fixture
def yard(settings: Settings) -> Iterator[modelyard.Yard]:
    """A fresh yard, the SDK's entry point, on each backend."""
    y = modelyard.open(settings.project_dir, db_url=settings.db_url or None)
    yield y
    y.close()
