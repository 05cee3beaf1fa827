"""SQL ingestion opens its source read-only: a query that writes (directly, after a first
statement, in a data-modifying WITH, or through a function) is refused with a clear error,
and the source's rows are exactly what they were; on a real SQLite file and a real
PostgreSQL server."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.errors import InvalidInput

PG_URL = os.environ.get("MODELYARD_TEST_PG_URL", "")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sqlite_source_cannot_be_written_through_ingestion(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, total REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 9.5), (2, 20.0), (3, 1.0)])
    conn.close()
    before = _digest(db)
    url = f"sqlite:///{db}"
    with modelyard.open(tmp_path / "project") as yard:
        for query in ["DELETE FROM orders RETURNING id",
                      "INSERT INTO orders VALUES (4, 2.0) RETURNING id",
                      "UPDATE orders SET total = 0 RETURNING id"]:
            with pytest.raises(InvalidInput, match="attempt to write a readonly database; "
                                                   "ingestion opens the source read-only"):
                yard.datasets.ingest_sql(query, url, name="orders")
        with pytest.raises(InvalidInput, match="one statement at a time; ingestion opens"):
            yard.datasets.ingest_sql("SELECT * FROM orders; DELETE FROM orders", url,
                                     name="orders")
        assert _digest(db) == before  # not a byte changed
        version = yard.datasets.ingest_sql("SELECT * FROM orders ORDER BY id", url,
                                           name="orders")
        assert version.n_rows == 3
    assert _digest(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), sum(total) FROM orders").fetchone() == (3, 30.5)
    conn.close()


@pytest.fixture
def pg_table() -> Iterator[tuple[str, str]]:
    """A PostgreSQL URL whose search_path is a fresh schema holding ``orders`` (3 rows) and
    a sequence; dropped afterwards."""
    if not PG_URL:
        pytest.skip("no PostgreSQL server: run the suite through scripts/test.sh")
    from sqlalchemy import create_engine, text

    schema = "ro_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"CREATE TABLE {schema}.orders (id integer, total float8)"))
        conn.execute(text(f"INSERT INTO {schema}.orders VALUES (1, 9.5), (2, 20.0), (3, 1.0)"))
        conn.execute(text(f"CREATE SEQUENCE {schema}.s"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.mark.postgres
def test_postgresql_source_cannot_be_written_through_ingestion(
        pg_table: tuple[str, str], tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    url, schema = pg_table
    writes = [
        "DELETE FROM orders RETURNING id",
        "WITH gone AS (DELETE FROM orders RETURNING id) SELECT * FROM gone",
        "SELECT nextval('s') AS n",
        "SELECT 1 AS x; DELETE FROM orders",
        "COMMIT; DELETE FROM orders RETURNING id",
        "SET TRANSACTION READ WRITE; DELETE FROM orders RETURNING id",
    ]
    with modelyard.open(tmp_path / "project") as yard:
        for query in writes:
            with pytest.raises(InvalidInput, match=r"the SQL query failed on .*; ingestion "
                                                   r"opens the source read-only"):
                yard.datasets.ingest_sql(query, url, name="orders")
        version = yard.datasets.ingest_sql("SELECT * FROM orders ORDER BY id", url,
                                           name="orders")
        assert version.n_rows == 3
    engine = create_engine(PG_URL)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*), sum(total) FROM {schema}.orders")).one() \
            == (3, 30.5)
        assert conn.execute(text(f"SELECT last_value, is_called FROM {schema}.s")).one() \
            == (1, False)  # nextval never ran
    engine.dispose()
