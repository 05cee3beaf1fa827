"""``modelyard doctor``'s checks of the store: the database, its schema revision, and every
artifact a run, dataset or model version points to (present, and its bytes matching its
hash). Repairs only what is safe: half-written uploads left by crashed writers are removed;
a missing or corrupted artifact is reported (with what points to it), never deleted, since
only a backup or a new registration can bring its bytes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text

from ..errors import ModelyardError
from ._store import Store

__all__ = ["StoreCheck", "check_store"]


@dataclass
class StoreCheck:
    """What :func:`check_store` found and did.

    Attributes:
        database: ``ok``, or what the database's own check reported.
        revision: the schema revision the database is at.
        head: the newest revision this modelyard knows.
        artifacts: referenced artifacts checked.
        missing: referenced artifacts that are not in the artifact store.
        corrupted: referenced artifacts whose bytes do not match their hash.
        uploads_removed: half-written uploads removed (with ``repair``).
    """

    database: str = "ok"
    revision: str | None = None
    head: str | None = None
    artifacts: int = 0
    missing: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    uploads_removed: int = 0

    @property
    def problems(self) -> list[str]:
        """One line per problem left, each saying what to do."""
        out: list[str] = []
        if self.database != "ok":
            out.append(f"database: {self.database}; restore the database from a backup")
        if self.revision != self.head:
            out.append(f"database schema at revision {self.revision}, this modelyard's is "
                       f"{self.head}; open the project once with this version to upgrade")
        out += [f"artifact {s[:12]} is missing; restore it from a backup or register the "
                "model again" for s in self.missing]
        out += [f"artifact {s[:12]} is corrupted (its bytes do not match its hash); models "
                "using it are refused until it is restored" for s in self.corrupted]
        return out


def check_store(store: Store, *, repair: bool = True, verify: bool = True,
                upload_grace_s: float = 3600.0) -> StoreCheck:
    """Check the database and the artifacts; remove half-written uploads when ``repair``.

    Args:
        store: the project's store.
        repair: remove uploads older than ``upload_grace_s`` that never completed.
        verify: hash every referenced artifact (reads them all); only their presence is
            checked when ``False``.
        upload_grace_s: how old an unfinished upload must be to count as abandoned.

    Returns:
        The findings.

    Example:
        >>> check_store(yard.store).problems  # doctest: +SKIP
        []
    """
    found = StoreCheck()
    db = store.db
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
            found.database = "ok" if rows == ["ok"] else "; ".join(map(str, rows[:5]))
        else:
            conn.execute(text("SELECT 1"))
    found.revision, found.head = db.revision(), db.head()
    with db.read() as session:
        referenced = sorted(store.referenced_blobs(session))
    artifacts = store.artifacts
    for sha in referenced:
        found.artifacts += 1
        try:
            if verify:
                artifacts.open_verified(sha)
            elif not artifacts.exists(sha):
                found.missing.append(sha)
        except ModelyardError as exc:
            (found.missing if exc.http_status == 404 else found.corrupted).append(sha)
    clean = getattr(artifacts, "clean_tmp", None)
    if repair and clean is not None:
        found.uploads_removed = int(clean(upload_grace_s))
    return found
