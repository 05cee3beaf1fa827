"""Reading a dataset from a SQL query, with the source opened read-only.

Ingestion reads; it must never be able to change the database it reads from, whatever the
query says. So the source is opened so that a write is impossible, not merely unlikely:

- SQLite: the file is opened through a ``mode=ro`` URI (the library refuses every write)
  with ``PRAGMA query_only`` on (which also covers a database the query attaches), and
  Python's driver runs one statement per call.
- PostgreSQL: the session starts with ``default_transaction_read_only`` on, the query runs
  in a transaction set ``READ ONLY`` that has already taken its snapshot (so it cannot be
  switched back to read-write), through a server-side cursor, which PostgreSQL declares
  only for a single ``SELECT`` or ``VALUES`` (no second statement, no ``COMMIT``, no
  data-modifying ``WITH``).
- Other databases: the query runs in a transaction that is rolled back, never committed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from ..errors import InvalidInput, StorageUnavailable
from ._canonical import canonicalize
from ._ingest import Loaded

__all__ = ["read_only_engine", "read_sql"]

_READ_ONLY = ("attempt to write a readonly database", "read-only transaction",
              "readonly database", "query_only", "DECLARE CURSOR", "cannot execute",
              "multiple commands", "one statement at a time")
_READS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})


def read_only_engine(url: Any) -> Any:
    """A SQLAlchemy engine on ``url`` whose connections cannot write (see the module).

    Args:
        url: a parsed SQLAlchemy URL (``sqlalchemy.engine.make_url``).

    Raises:
        sqlalchemy.exc.NoSuchModuleError: its driver is not installed.
        sqlalchemy.exc.ArgumentError: the URL cannot be used.

    Example:
        >>> from sqlalchemy.engine import make_url
        >>> engine = read_only_engine(make_url("sqlite:///shop.db"))  # doctest: +SKIP
    """
    from sqlalchemy import create_engine, event

    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database).resolve()

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            return conn

        return create_engine("sqlite://", creator=connect)
    if backend == "postgresql":
        given = url.query.get("options", "")
        given = " ".join(given) if isinstance(given, tuple) else given
        engine = create_engine(url.update_query_dict({
            "options": f"{given} -c default_transaction_read_only=on".strip()}))

        @event.listens_for(engine, "begin")
        def _read_only(conn: Any) -> None:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql("SELECT 1")  # the snapshot: READ WRITE is refused now

        return engine
    return create_engine(url)


def read_sql(query: str, db_url: str) -> Loaded:
    """Run a SQL query against any SQLAlchemy URL, read-only, and canonicalise the result.

    Text columns whose values are all ISO 8601 dates become datetimes (SQLite stores dates
    as text).

    Args:
        query: a ``SELECT`` (any statement returning rows; one that writes is refused).
        db_url: a SQLAlchemy URL, e.g. ``sqlite:///shop.db`` or
            ``postgresql+psycopg://user@host/db``.

    Returns:
        The frame and a description of the source (the password hidden).

    Raises:
        InvalidInput: the URL is malformed or names a SQLite file that does not exist, its
            driver is missing, the query fails, tries to write, or returns no rows or
            duplicate column names.
        StorageUnavailable: the database cannot be reached.

    Example:
        >>> read_sql("SELECT * FROM orders", "sqlite:///shop.db")  # doctest: +SKIP
    """
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the SQL query is empty; pass sql='SELECT ...'")
    try:
        url = make_url(db_url)
    except (ArgumentError, TypeError) as exc:
        raise InvalidInput(
            f"db_url {db_url!r} is not a SQLAlchemy URL; use e.g. 'sqlite:///data.db' or "
            "'postgresql+psycopg://user@host/db'"
        ) from exc
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in {"", ":memory:"} or database.startswith("file:"):
            raise InvalidInput(f"db_url {shown!r} names no SQLite file to query")
        if not Path(database).is_file():
            raise InvalidInput(
                f"SQLite database file {database!r} (from db_url {shown!r}) does not exist; "
                "check the path"
            )
    try:
        engine = read_only_engine(url)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise InvalidInput(
            f"the driver for {url.drivername!r} is not installed ({exc}); install it, e.g. "
            "pip install 'psycopg[binary]' for postgresql+psycopg"
        ) from exc
    except ArgumentError as exc:
        raise InvalidInput(f"db_url {shown!r} cannot be used: {exc}") from exc
    try:
        try:
            conn = engine.connect()
        except (DBAPIError, SQLAlchemyError) as exc:
            orig = getattr(exc, "orig", None) or exc
            raise StorageUnavailable(
                f"cannot connect to {shown!r}: {str(orig).strip()}; check the URL and that "
                "the database is running"
            ) from exc
        with conn:
            try:
                with conn.begin() as transaction:
                    streamed = conn.execution_options(stream_results=True) \
                        if url.get_backend_name() == "postgresql" else conn
                    frame = pd.read_sql_query(text(query), streamed)
                    transaction.rollback()  # read-only: nothing is ever committed
            except (DBAPIError, SQLAlchemyError, pd.errors.DatabaseError) as exc:
                # pandas wraps the driver's error; its message is the useful part.
                cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
                orig = getattr(cause, "orig", None) or cause or exc
                detail = str(orig).strip().splitlines()[0].rstrip(".")
                first = query.lstrip(" (\n\t").split(None, 1)[0].upper()
                refused = any(m in detail for m in _READ_ONLY) or (
                    "syntax error" in detail and first not in _READS)
                hint = ("; ingestion opens the source read-only: give one SELECT that reads"
                        if refused else "; check the query")
                raise InvalidInput(
                    f"the SQL query failed on {shown!r}: {detail}{hint}"
                ) from exc
    finally:
        engine.dispose()
    try:
        loaded = canonicalize(frame, parse_dates=True)
    except InvalidInput as exc:
        raise InvalidInput(f"the SQL query result: {exc.message}") from exc
    one_line = " ".join(query.split())
    return Loaded(loaded, f"sql:{shown}: {one_line}")
