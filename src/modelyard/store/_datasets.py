"""Metadata of datasets and their versions, and run lineage.

Every SQL statement on ``datasets``, ``dataset_versions`` and reads of ``run_inputs`` lives
here; callers get frozen :class:`Dataset` / :class:`DatasetVersion` records, never rows.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import Conflict
from ._db import Database
from ._entities import Dataset, DatasetVersion
from ._schema import (
    DatasetRow,
    DatasetVersionRow,
    ModelRow,
    ModelVersionRow,
    RunInputRow,
    RunRow,
)

__all__ = ["DatasetRepository"]

_ADD_ATTEMPTS = 10


def _version(row: DatasetVersionRow, name: str) -> DatasetVersion:
    return DatasetVersion(
        id=row.id,
        dataset=name,
        version=row.version,
        content_hash=row.content_hash,
        blob_sha256=row.blob_sha256,
        n_rows=row.n_rows,
        n_columns=row.n_columns,
        schema=json.loads(row.schema_json or "{}"),
        source=row.source,
        created_at=row.created_at,
    )


class DatasetRepository:
    """Reads and writes datasets and their versions, and reads run lineage.

    Args:
        db: the database that holds the tables.

    Example:
        >>> store.datasets.get_version("fraud", None)  # doctest: +SKIP
        DatasetVersion(id=1, dataset='fraud', version=3, ...)
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reads ----------------------------------------------------------------------------

    def get_dataset(self, name: str) -> Dataset | None:
        """The dataset called ``name`` with its newest version number, or ``None``."""
        with self._db.read() as session:
            row = session.scalar(select(DatasetRow).where(DatasetRow.name == name))
            if row is None:
                return None
            latest = session.scalar(
                select(func.max(DatasetVersionRow.version)).where(
                    DatasetVersionRow.dataset_id == row.id
                )
            )
            return Dataset(row.id, row.name, row.description, row.created_at, latest)

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name, with its newest version number."""
        latest = (
            select(
                DatasetVersionRow.dataset_id,
                func.max(DatasetVersionRow.version).label("latest"),
            )
            .group_by(DatasetVersionRow.dataset_id)
            .subquery()
        )
        stmt = (
            select(DatasetRow, latest.c.latest)
            .outerjoin(latest, latest.c.dataset_id == DatasetRow.id)
            .order_by(DatasetRow.name)
        )
        with self._db.read() as session:
            return [
                Dataset(row.id, row.name, row.description, row.created_at, top)
                for row, top in session.execute(stmt)
            ]

    def get_version(self, name: str, version: int | None) -> DatasetVersion | None:
        """Version ``version`` of dataset ``name`` (the newest when ``None``), or ``None``."""
        stmt = (
            select(DatasetVersionRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.name == name)
        )
        if version is None:
            stmt = stmt.order_by(DatasetVersionRow.version.desc()).limit(1)
        else:
            stmt = stmt.where(DatasetVersionRow.version == version)
        with self._db.read() as session:
            row = session.scalar(stmt)
            return None if row is None else _version(row, name)

    def get_version_by_id(self, version_id: int) -> DatasetVersion | None:
        """The dataset version with database id ``version_id``, or ``None``."""
        stmt = (
            select(DatasetVersionRow, DatasetRow.name)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetVersionRow.id == version_id)
        )
        with self._db.read() as session:
            found = session.execute(stmt).first()
            return None if found is None else _version(found[0], found[1])

    def find_by_hash(self, name: str, content_hash: str) -> DatasetVersion | None:
        """The version of dataset ``name`` whose content hashes to ``content_hash``, if any."""
        stmt = (
            select(DatasetVersionRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.name == name, DatasetVersionRow.content_hash == content_hash)
        )
        with self._db.read() as session:
            row = session.scalar(stmt)
            return None if row is None else _version(row, name)

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of dataset ``name``, oldest first (empty when there is none)."""
        stmt = (
            select(DatasetVersionRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.name == name)
            .order_by(DatasetVersionRow.version)
        )
        with self._db.read() as session:
            return [_version(row, name) for row in session.scalars(stmt)]

    def version_numbers(self, name: str) -> list[int]:
        """The version numbers of dataset ``name``, ascending."""
        stmt = (
            select(DatasetVersionRow.version)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.name == name)
            .order_by(DatasetVersionRow.version)
        )
        with self._db.read() as session:
            return list(session.scalars(stmt))

    def runs_using(self, version_id: int) -> list[str]:
        """Ids of the runs that used a dataset version, oldest run first."""
        with self._db.read() as session:
            return self._runs_using(session, version_id)

    def models_using(self, version_id: int) -> list[str]:
        """References (``model/versions/N``) of model versions trained on a dataset version."""
        with self._db.read() as session:
            return self._models_using(session, version_id)

    @staticmethod
    def _runs_using(session: Session, version_id: int) -> list[str]:
        stmt = (
            select(RunInputRow.run_id, func.min(RunRow.start_time).label("started"))
            .join(RunRow, RunRow.id == RunInputRow.run_id)
            .where(RunInputRow.dataset_version_id == version_id)
            .group_by(RunInputRow.run_id)
            .order_by("started", RunInputRow.run_id)
        )
        return [run_id for run_id, _ in session.execute(stmt)]

    @staticmethod
    def _models_using(session: Session, version_id: int) -> list[str]:
        stmt = (
            select(ModelRow.name, ModelVersionRow.version)
            .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
            .where(ModelVersionRow.dataset_version_id == version_id)
            .order_by(ModelRow.name, ModelVersionRow.version)
        )
        return [f"{name}/versions/{v}" for name, v in session.execute(stmt)]

    # -- writes ---------------------------------------------------------------------------

    def add_version(
        self,
        *,
        name: str,
        description: str,
        content_hash: str,
        blob_sha256: str,
        n_rows: int,
        n_columns: int,
        schema: dict[str, Any],
        source: str,
    ) -> tuple[DatasetVersion, bool]:
        """Record a new version of dataset ``name`` (created on first use), with a new number.

        When a version with the same content hash exists (a concurrent writer may have
        added it a moment ago) that version is returned instead. Two writers racing for the
        same number collide on a unique constraint; the loser retries with the next number.

        Args:
            name: the dataset name.
            description: set on a new dataset; replaces the old one when not empty.
            content_hash: the hash of the version's content.
            blob_sha256: the stored Parquet blob.
            n_rows: rows in the version.
            n_columns: columns in the version.
            schema: the inferred schema, JSON-ready.
            source: where the data came from, for people.

        Returns:
            ``(version, created)``; ``created`` is ``False`` when it already existed.

        Raises:
            StorageUnavailable: the database cannot be used or stayed locked.
        """
        schema_json = json.dumps(schema, sort_keys=True)

        def add(session: Session) -> tuple[DatasetVersion, bool]:
            now = time.time()
            dataset = session.scalar(select(DatasetRow).where(DatasetRow.name == name))
            if dataset is None:
                dataset = DatasetRow(name=name, description=description, created_at=now)
                session.add(dataset)
                session.flush()
            elif description and description != dataset.description:
                dataset.description = description
            existing = session.scalar(
                select(DatasetVersionRow).where(
                    DatasetVersionRow.dataset_id == dataset.id,
                    DatasetVersionRow.content_hash == content_hash,
                )
            )
            if existing is not None:
                return _version(existing, name), False
            top = session.scalar(
                select(func.max(DatasetVersionRow.version)).where(
                    DatasetVersionRow.dataset_id == dataset.id
                )
            )
            # Numbers of deleted versions are never given again: `fraud@3` names one content.
            number = max(top or 0, dataset.last_version or 0) + 1
            dataset.last_version = number
            row = DatasetVersionRow(
                dataset_id=dataset.id,
                version=number,
                content_hash=content_hash,
                blob_sha256=blob_sha256,
                n_rows=n_rows,
                n_columns=n_columns,
                schema_json=schema_json,
                source=source,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return _version(row, name), True

        for attempt in range(_ADD_ATTEMPTS):
            try:
                return self._db.write(add)
            except Conflict:
                if attempt == _ADD_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (1 + random.random()) * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def delete_version(self, version_id: int) -> None:
        """Delete a dataset version's row, unless a run or model version references it.

        The blob stays until :meth:`Store.gc` finds nothing points to it.

        Raises:
            Conflict: a run input or model version references the version; the message
                names them.
        """

        def drop(session: Session) -> None:
            found = session.execute(
                select(DatasetVersionRow.version, DatasetRow.name)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetVersionRow.id == version_id)
            ).first()
            if found is None:
                return
            ref = f"{found[1]}@{found[0]}"
            runs = self._runs_using(session, version_id)
            models = self._models_using(session, version_id)
            if runs or models:
                users = []
                if runs:
                    users.append(f"run(s) {_some(runs)}")
                if models:
                    users.append(f"model version(s) {_some(models)}")
                raise Conflict(
                    f"dataset version {ref!r} is used by {' and '.join(users)}; delete "
                    "those first, or keep the version"
                )
            session.execute(delete(DatasetVersionRow).where(DatasetVersionRow.id == version_id))

        self._db.write(drop)


def _some(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
