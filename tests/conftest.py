"""Shared fixtures: a fresh store per test, on SQLite and, when the test script started one,
on a real PostgreSQL server (``MODELYARD_TEST_PG_URL``).

Without that server the PostgreSQL tests skip on a developer's machine; under ``CI=true``
a run that selects them fails instead, so a server that could not start is never mistaken
for a green run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from _backends import BACKENDS, NO_PG, PG_URL, _in_ci, _pg_schema_url
from modelyard.config import Settings, load_settings
from modelyard.store import Store, open_store


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what they deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under CI=true, selected PostgreSQL tests without a server fail the whole run."""
    if PG_URL or not _in_ci():
        return
    wanted = [item.nodeid for item in items if item.get_closest_marker("postgres")]
    if wanted:
        pytest.exit(f"CI=true and {len(wanted)} PostgreSQL tests are selected, but there is "
                    f"{NO_PG}; see its log (or deselect them with -m 'not postgres')",
                    returncode=1)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MODELYARD_") and key != "MODELYARD_TEST_PG_URL":
            monkeypatch.delenv(key)


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
