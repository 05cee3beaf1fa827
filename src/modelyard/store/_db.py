"""The metadata database: engine, pragmas, session scopes, migrations, error mapping.

SQLite runs in WAL mode with foreign keys on and a busy timeout, and write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with
"database is locked" halfway through. Any other SQLAlchemy URL (PostgreSQL) works as is.
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

from ..errors import Conflict, InvalidInput, ModelyardError, StorageUnavailable
from ._locations import MIGRATIONS, head_revision

__all__ = ["Database"]

T = TypeVar("T")
_MIGRATE_LOCK = threading.Lock()
_FULL_BYTES = 64 * 1024  # less free space than this on the SQLite file's disk: full
_PG_MIGRATE_KEY = 0x6D6F64656C79  # "modely": the advisory lock id of schema migrations


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text or (
        "could not serialize" in text or "deadlock detected" in text
    )



class Database:
    """A metadata database reached by a SQLAlchemy URL.

    Args:
        url: a SQLAlchemy URL, e.g. ``sqlite:///.modelyard/yard.db`` or
            ``postgresql+psycopg://user@host/db``.
        busy_timeout_ms: how long a SQLite writer waits for the lock.
        migrate: upgrade the schema to the newest revision on open.

    Raises:
        InvalidInput: the URL is malformed or names a driver that is not installed.
        StorageUnavailable: the database cannot be reached.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 30000, migrate: bool = True) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InvalidInput(
                f"database URL {url!r} is not a SQLAlchemy URL; use e.g. "
                "'sqlite:///path/yard.db' or 'postgresql+psycopg://user@host/db'"
            ) from exc
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._busy_timeout_ms = busy_timeout_ms
        try:
            if self.is_sqlite:
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # NullPool: a connection per scope is cheap on SQLite and is safe across fork.
                self.engine: Engine = create_engine(url, poolclass=NullPool)
                self._install_sqlite_pragmas(self.engine)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise InvalidInput(
                f"the driver for {parsed.drivername!r} is not installed ({exc.name}); "
                "for PostgreSQL run: pip install 'modelyard[postgres]'"
            ) from exc
        self._writer = self.engine.execution_options(modelyard_immediate=True)
        self._read_sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(bind=self._writer, expire_on_commit=False)
        if migrate:
            self.upgrade()

    def _install_sqlite_pragmas(self, engine: Engine) -> None:
        busy = int(self._busy_timeout_ms)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("modelyard_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    # -- migrations ---------------------------------------------------------------------

    def alembic_config(self) -> AlembicConfig:
        """The Alembic configuration that migrates this database."""
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def revision(self) -> str | None:
        """The schema revision the database is at (``None`` for an empty database)."""
        # A plain query, not Alembic's MigrationContext: opening a store (every CLI command)
        # then needs no Alembic import, which alone takes a quarter of a second.
        with self._translate(), self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if found is None else str(found)

    def head(self) -> str | None:
        """The newest schema revision this version of modelyard knows."""
        return head_revision()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision``; does nothing when it is already there."""
        current = self.revision()
        if revision == "head" and current == self.head():
            return
        from alembic import command
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(self.alembic_config())
        if current is not None and current not in {r.revision for r in script.walk_revisions()}:
            raise Conflict(
                f"the database is at schema revision {current!r}, which this version of "
                "modelyard does not know; upgrade modelyard"
            )
        # Serialise migrations across processes: SQLite by taking the write lock up front
        # (BEGIN IMMEDIATE), PostgreSQL by a transaction-scoped advisory lock. Alembic reads
        # the revision again inside the lock, so the second process finds nothing to do.
        engine = self._writer if self.is_sqlite else self.engine
        with _MIGRATE_LOCK, self._translate(), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATE_KEY})
            cfg = self.alembic_config()
            cfg.attributes["connection"] = conn
            # Alembic reports each step at INFO; a server or loop that logs at INFO would
            # otherwise print "Context impl SQLiteImpl" lines on every start.
            migration_log = logging.getLogger("alembic")
            level = migration_log.level
            migration_log.setLevel(max(level, logging.WARNING))
            try:
                command.upgrade(cfg, revision)
            finally:
                migration_log.setLevel(level)

    # -- sessions -----------------------------------------------------------------------

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except ModelyardError:
            raise
        except IntegrityError as exc:
            raise Conflict(f"the change conflicts with stored data: {exc.orig}") from exc
        except OperationalError as exc:
            full = self._disk_full()
            if full is not None:
                raise StorageUnavailable(
                    f"the disk holding the metadata database {full} is full ({exc.orig}); "
                    "the change was not made and nothing stored is lost: free space there "
                    "and try again") from exc
            raise StorageUnavailable(
                f"the metadata database at {make_url(self.url).render_as_string()} "
                f"cannot be used: {exc.orig}; check MODELYARD_DB_URL and that the server "
                "is running"
            ) from exc
        except DBAPIError as exc:
            raise StorageUnavailable(f"the metadata database failed: {exc.orig}") from exc

    def _disk_full(self) -> str | None:
        """The SQLite file's path when the disk holding it has no room left, else None
        (SQLite reports a full disk as ``disk I/O error`` in WAL mode)."""
        if not self.is_sqlite:
            return None
        database = make_url(self.url).database or ""
        if database in ("", ":memory:"):
            return None
        try:
            free = shutil.disk_usage(Path(database).resolve().parent).free
        except OSError:
            return None
        return database if free < _FULL_BYTES else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with self._translate(), self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def write(self, fn: Callable[[Session], T], *, attempts: int = 8) -> T:
        """Run ``fn`` in one write transaction and commit it, retrying on lock contention.

        ``fn`` may run more than once, so it must only touch the session.
        """
        delay = 0.02
        for attempt in range(attempts):
            try:
                with (
                    self._translate_locked(),
                    self._write_sessions() as session,
                    session.begin(),
                ):
                    return fn(session)
            except _Locked:
                if attempt == attempts - 1:
                    break
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
        raise StorageUnavailable(
            "the metadata database stayed locked by another writer; retry, or raise "
            "MODELYARD_BUSY_TIMEOUT_MS"
        )

    @contextmanager
    def _translate_locked(self) -> Iterator[None]:
        try:
            with self._translate():
                yield
        except StorageUnavailable as exc:
            if exc.__cause__ is not None and _is_locked(exc.__cause__):
                raise _Locked() from exc
            raise

    def insert(self, table: Any) -> Any:
        """An INSERT of this database's dialect, which offers ``on_conflict_do_*``."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table)
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)

    def dispose(self) -> None:
        """Close every pooled connection (call after fork, or when done)."""
        self.engine.dispose()


class _Locked(Exception):
    pass
