"""The store: one metadata database and one artifact store, opened together."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import InvalidInput
from ._artifacts import ArtifactStore, FsspecArtifactStore, open_artifact_store
from ._datasets import DatasetRepository
from ._db import Database
from ._feedback import FeedbackRepository
from ._keys import KeyRepository
from ._locations import database_url
from ._loop import LoopRepository
from ._monitoring import MonitoringRepository
from ._registry import ModelRepository
from ._rollouts import RolloutRepository
from ._runs import RunRepository
from ._schema import BlobRow, DatasetVersionRow, ModelVersionRow, RunArtifactRow

__all__ = ["GcReport", "Store", "open_store"]


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection found and freed."""

    blobs_total: int
    blobs_referenced: int
    blobs_deleted: int
    bytes_freed: int
    orphan_files_deleted: int
    dry_run: bool


class Store:
    """Metadata and artifacts of one yard.

    Args:
        db: the metadata database.
        artifacts: the artifact store.
        settings: the settings in force.
    """

    def __init__(self, db: Database, artifacts: ArtifactStore, settings: Settings) -> None:
        self.db = db
        self.artifacts = artifacts
        self.settings = settings
        self.datasets = DatasetRepository(db)
        self.runs = RunRepository(db)
        self.models = ModelRepository(db)
        self.keys = KeyRepository(db)
        self.feedback = FeedbackRepository(db)
        self.monitoring = MonitoringRepository(db)
        self.rollouts = RolloutRepository(db)
        self.loop = LoopRepository(db)

    # -- blobs ------------------------------------------------------------------------

    def put_blob_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file as a blob and record it; returns (sha256, size).

        The blob's row is refreshed *before* the upload, so a concurrent :meth:`gc` that has
        not yet deleted it sees a young blob and keeps it (see :meth:`gc`).
        """
        from ._artifacts import sha256_file

        sha = sha256_file(path)
        size = os.path.getsize(path)
        self.touch_blob(sha, size)
        if not self.artifacts.exists(sha):
            self.artifacts.put_file(path)
        return sha, size

    def put_blob_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes as a blob and record it; returns (sha256, size)."""
        import tempfile

        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_blob_file(tmp.name)
        finally:
            os.unlink(tmp.name)

    def touch_blob(self, sha256: str, size: int) -> None:
        """Record that a blob is (about to be) stored now."""
        now = time.time()

        def upsert(session: Session) -> None:
            values = {"sha256": sha256, "size": size, "created_at": now}
            stmt = self.db.insert(BlobRow).values(**values)
            session.execute(
                stmt.on_conflict_do_update(index_elements=["sha256"], set_={"created_at": now})
            )

        self.db.write(upsert)

    def referenced_blobs(self, session: Session) -> set[str]:
        """Every blob sha256 that some run, dataset version or model version points to."""
        refs: set[str] = set()
        refs.update(session.scalars(select(RunArtifactRow.blob_sha256)))
        refs.update(session.scalars(select(DatasetVersionRow.blob_sha256)))
        for sha, extra in session.execute(
            select(ModelVersionRow.blob_sha256, ModelVersionRow.extra_json)
        ):
            refs.add(sha)
            refs.update(json.loads(extra or "{}").get("blobs", []))
        return refs

    def gc(self, *, grace_s: float | None = None, dry_run: bool = False) -> GcReport:
        """Delete blobs that nothing references any more.

        A blob is a candidate when no row points to it and it was last stored more than
        ``grace_s`` ago. Its row is deleted first; the file is moved aside, and put back if a
        writer recorded the blob again meanwhile; only then is it deleted.

        Args:
            grace_s: minimum age of a collectable blob (``gc_grace_s`` by default).
            dry_run: report what would be freed without deleting.
        """
        grace = self.settings.gc_grace_s if grace_s is None else grace_s
        cutoff = time.time() - grace
        with self.db.read() as session:
            refs = self.referenced_blobs(session)
            rows = {sha: (size, at) for sha, size, at in session.execute(
                select(BlobRow.sha256, BlobRow.size, BlobRow.created_at))}
        stored = dict(self.artifacts.list_blobs())
        candidates = [s for s, (_, at) in rows.items() if s not in refs and at <= cutoff]
        # Files with no row at all: a writer crashed between upload and commit.
        orphans = [s for s, mtime in stored.items()
                   if s not in rows and s not in refs and mtime <= cutoff]
        deleted, freed = 0, 0
        if not dry_run:
            for sha in candidates:
                if self._collect(sha, cutoff):
                    deleted += 1
                    freed += rows[sha][0]
            for sha in orphans:
                self.artifacts.delete(sha)
            if isinstance(self.artifacts, FsspecArtifactStore):
                self.artifacts.clean_tmp(max(grace, 60.0))
        else:
            deleted = len(candidates)
            freed = sum(rows[s][0] for s in candidates)
        return GcReport(
            blobs_total=len(set(rows) | set(stored)),
            blobs_referenced=len(refs),
            blobs_deleted=deleted,
            bytes_freed=freed,
            orphan_files_deleted=len(orphans),
            dry_run=dry_run,
        )

    def _collect(self, sha: str, cutoff: float) -> bool:
        def drop_row(session: Session) -> bool:
            row = session.get(BlobRow, sha)
            if row is None or row.created_at > cutoff or sha in self.referenced_blobs(session):
                return False
            session.execute(delete(BlobRow).where(BlobRow.sha256 == sha))
            return True

        if not self.db.write(drop_row):
            return False
        self.artifacts.quarantine(sha)
        with self.db.read() as session:
            came_back = session.get(BlobRow, sha) is not None
        if came_back:
            self.artifacts.restore(sha)
        else:
            self.artifacts.delete(sha)
        return not came_back

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def _storage_options(settings: Settings) -> dict[str, Any]:
    if not settings.artifacts_options:
        return {}
    try:
        options = json.loads(settings.artifacts_options)
    except ValueError as exc:
        raise InvalidInput(f"setting 'artifacts_options' is not JSON: {exc}; give an object "
                           'such as {"endpoint_url": "http://127.0.0.1:9000"}') from exc
    if not isinstance(options, dict):
        raise InvalidInput("setting 'artifacts_options' must be a JSON object of fsspec "
                           f"storage options, not {type(options).__name__}")
    return options


def open_store(settings: Settings) -> Store:
    """Open (and if needed create and upgrade) the store the settings point to.

    Example:
        >>> from modelyard.config import load_settings
        >>> store = open_store(load_settings("/tmp/demo"))  # doctest: +SKIP
    """
    state = settings.state_dir
    db_url = database_url(settings)
    artifacts_url = settings.artifacts or str(Path(state, "artifacts"))
    db = Database(db_url, busy_timeout_ms=settings.busy_timeout_ms)
    artifacts = open_artifact_store(artifacts_url, cache_dir=Path(state, "cache"),
                                    storage_options=_storage_options(settings))
    return Store(db, artifacts, settings)
