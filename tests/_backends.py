"""Which metadata databases the tests run on: SQLite always, and a real PostgreSQL server
when the test script started one (``MODELYARD_TEST_PG_URL``). A module of its own, so that
test modules import it by a name no other file has (several folders have a ``conftest``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_URL = os.environ.get("MODELYARD_TEST_PG_URL", "")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NO_PG = ("no PostgreSQL server (MODELYARD_TEST_PG_URL is unset): scripts/postgres.sh could "
         "not start one")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not PG_URL:
        if _in_ci():
            pytest.fail(f"CI=true and {NO_PG}")
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
