"""Where the store's parts are: the metadata database's URL, the migrations and the newest
revision, known without SQLAlchemy or Alembic (the CLI's read-only glance asks too)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["MIGRATIONS", "database_url", "head_revision"]

MIGRATIONS = Path(__file__).parent / "migrations"


@cache
def head_revision() -> str | None:
    """The newest revision among the packaged migrations: the one no other revision names as
    its ``down_revision`` (read from the files, without importing Alembic).

    Example:
        >>> head_revision() is not None
        True
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    pattern = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*["\']?(\w+)', re.M)
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for key, value in pattern.findall(path.read_text(encoding="utf-8")):
            if value == "None":
                continue
            (revisions if key == "revision" else parents).add(value)
    heads = sorted(revisions - parents)
    return heads[-1] if heads else None


def database_url(settings: Settings) -> str:
    """The metadata database's URL: the ``db_url`` setting, else SQLite in the project's
    state folder (``.modelyard/yard.db``)."""
    return settings.db_url or f"sqlite:///{Path(settings.state_dir, 'yard.db')}"
