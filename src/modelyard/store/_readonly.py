"""A glance at the newest runs of a SQLite store through the standard library's ``sqlite3``.

``modelyard runs list`` answers in well under half a second this way: importing SQLAlchemy
and mapping the schema alone take longer than that. It reads only, and only a database at
the schema revision this version of modelyard writes; anything else (PostgreSQL, an older
schema, a file that is not there yet) returns ``None`` and the caller opens the store as
usual, which migrates or creates it. The rows are those of ``RunRepository.list``: the
same filters, the same order, each metric's latest value from the same ``latest_metrics``
table.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ._locations import database_url, head_revision
from ._run_filter import RunSummary

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["glance_runs"]

_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")

_WHICH = """
WHERE (:experiment IS NULL OR experiment = :experiment) AND (:status IS NULL OR status = :status)
ORDER BY start_time DESC, id LIMIT :limit
"""
_RUNS = "SELECT id, name, experiment, parent_id, status, start_time, end_time FROM runs" + _WHICH
_LATEST = ("SELECT run_id, key, value FROM latest_metrics WHERE run_id IN (SELECT id FROM runs"
           + _WHICH + ") ORDER BY key")


def _sqlite_file(db_url: str) -> Path | None:
    """The file of a plain SQLite URL (relative paths from the working folder, as
    SQLAlchemy reads them); ``None`` for any other URL, in-memory or with options."""
    prefix = next((p for p in _PREFIXES if db_url.startswith(p)), None)
    if prefix is None or "?" in db_url:
        return None
    path = db_url[len(prefix):]
    if not path or path == ":memory:":
        return None
    return Path(path)


def glance_runs(settings: Settings, *, experiment: str | None = None, status: str | None = None,
                limit: int = 100) -> list[RunSummary] | None:
    """The newest runs matching every filter given, with their latest metrics, read from a
    SQLite file without SQLAlchemy; ``None`` where that cannot be done (then open the store).

    Args:
        settings: the project's settings (the database they point to).
        experiment: only runs of this experiment.
        status: only runs in this state.
        limit: at most this many, newest first.

    Returns:
        Run summaries (their params and tags left empty), or ``None`` for a database that is
        not a SQLite file at the current schema revision.

    Example:
        >>> from modelyard.config import load_settings
        >>> glance_runs(load_settings(db_url="postgresql+psycopg://localhost/y")) is None
        True
    """
    path = _sqlite_file(database_url(settings))
    if path is None or not path.is_file():
        return None
    try:
        # mode=ro: a glance never creates, migrates or locks the database for writing
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True,
                               timeout=5.0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot: the runs and their metrics agree
        found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if found is None or str(found[0]) != head_revision():
            return None
        which = {"experiment": experiment, "status": status, "limit": max(0, limit)}
        rows = conn.execute(_RUNS, which).fetchall()
        latest: dict[str, dict[str, float]] = {str(r[0]): {} for r in rows}
        for run_id, key, value in conn.execute(_LATEST, which) if rows else ():
            latest[run_id][key] = float(value)
    except sqlite3.Error:  # no such table, a locked or damaged file: the store will say
        return None
    finally:
        conn.close()
    return [RunSummary(id=str(r[0]), name=str(r[1]), experiment=str(r[2]), parent_id=r[3],
                       status=str(r[4]), start_time=float(r[5]),
                       end_time=None if r[6] is None else float(r[6]), metrics=latest[r[0]])
            for r in rows]
