"""Metadata of models, versions and aliases: every SQL statement of the registry.

Rows are turned into the frozen records of ``_entities`` before they leave this module.
Version numbers come from the model's ``last_version`` counter inside the inserting
transaction, so a deleted version's number is never given again; the unique constraint on
``(model_id, version)`` catches two writers that raced, and the losing one retries.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ._db import Database
from ._entities import AliasEvent, Model, ModelVersion
from ._schema import (
    AliasEventRow,
    AliasRow,
    DatasetRow,
    DatasetVersionRow,
    ModelRow,
    ModelVersionRow,
    RunRow,
)

__all__ = ["ModelRepository", "describe_numbers"]

T = TypeVar("T")
_RACE_ATTEMPTS = 10
_NAMES_SHOWN = 10


def describe_numbers(numbers: Iterable[int]) -> str:
    """Compress sorted version numbers into ranges: ``[1, 2, 3, 5]`` -> ``'1-3, 5'``."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(parts)


class ModelRepository:
    """Reads and writes models, versions, aliases and alias history.

    Every method runs in its own transaction and returns frozen records.

    Args:
        db: the database that holds the tables.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- transactions -----------------------------------------------------------------

    def _write_racing(self, fn: Callable[[Session], T]) -> T:
        """``db.write(fn)``, run again when a unique constraint shows another writer won."""
        for attempt in range(_RACE_ATTEMPTS):
            try:
                return self._db.write(fn)
            except Conflict as exc:
                if not isinstance(exc.__cause__, IntegrityError) or attempt == _RACE_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- lookups (inside a session) ---------------------------------------------------

    @staticmethod
    def _model_row(session: Session, name: str, *, lock: bool = False) -> ModelRow:
        stmt = select(ModelRow).where(ModelRow.name == name)
        if lock:
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).one_or_none()
        if row is None:
            names = list(session.scalars(
                select(ModelRow.name).order_by(ModelRow.name).limit(_NAMES_SHOWN + 1)))
            if not names:
                raise NotFound(f"no model '{name}'; no models are registered yet")
            shown = ", ".join(names[:_NAMES_SHOWN]) + (", ..." if len(names) > _NAMES_SHOWN
                                                       else "")
            raise NotFound(f"no model '{name}'; registered models: {shown}")
        return row

    @staticmethod
    def _numbers(session: Session, model_id: int) -> list[int]:
        return list(session.scalars(
            select(ModelVersionRow.version)
            .where(ModelVersionRow.model_id == model_id)
            .order_by(ModelVersionRow.version)))

    def _version_row(self, session: Session, model: ModelRow, version: int) -> ModelVersionRow:
        row = session.scalars(select(ModelVersionRow).where(
            ModelVersionRow.model_id == model.id, ModelVersionRow.version == version)
        ).one_or_none()
        if row is None:
            numbers = self._numbers(session, model.id)
            has = (f"it has versions {describe_numbers(numbers)}" if numbers
                   else "it has no versions yet")
            raise NotFound(f"no version {version} of model '{model.name}'; {has}")
        return row

    @staticmethod
    def _alias_names(session: Session, model_id: int) -> list[str]:
        return list(session.scalars(
            select(AliasRow.alias).where(AliasRow.model_id == model_id).order_by(AliasRow.alias)))

    def _records(self, session: Session, model: ModelRow,
                 rows: list[ModelVersionRow]) -> list[ModelVersion]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        aliases: dict[int, list[str]] = defaultdict(list)
        for version_id, alias in session.execute(
            select(AliasRow.version_id, AliasRow.alias)
            .where(AliasRow.version_id.in_(ids)).order_by(AliasRow.alias)
        ):
            aliases[version_id].append(alias)
        dataset_ids = {r.dataset_version_id for r in rows if r.dataset_version_id is not None}
        refs: dict[int, str] = {}
        if dataset_ids:
            for dv_id, ds_name, dv_number in session.execute(
                select(DatasetVersionRow.id, DatasetRow.name, DatasetVersionRow.version)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetVersionRow.id.in_(dataset_ids))
            ):
                refs[dv_id] = f"{ds_name}@{dv_number}"
        return [
            ModelVersion(
                id=r.id,
                model=model.name,
                version=r.version,
                run_id=r.run_id,
                dataset_version_id=r.dataset_version_id,
                dataset_ref=refs.get(r.dataset_version_id) if r.dataset_version_id else None,
                blob_sha256=r.blob_sha256,
                format=r.format,
                flavor=r.flavor,
                signature=json.loads(r.signature_json or "{}"),
                metrics=json.loads(r.metrics_json or "{}"),
                extra=json.loads(r.extra_json or "{}"),
                code_version=r.code_version,
                description=r.description,
                created_at=r.created_at,
                aliases=tuple(aliases.get(r.id, ())),
            )
            for r in rows
        ]

    def _model_record(self, session: Session, row: ModelRow) -> Model:
        latest = session.scalar(
            select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == row.id))
        aliases = {alias: version for alias, version in session.execute(
            select(AliasRow.alias, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.id == AliasRow.version_id)
            .where(AliasRow.model_id == row.id).order_by(AliasRow.alias)
        )}
        return Model(id=row.id, name=row.name, description=row.description,
                     created_at=row.created_at, latest_version=latest, aliases=aliases)

    # -- reads ------------------------------------------------------------------------

    def get_model(self, name: str) -> Model:
        """The model called ``name``. Raises NotFound naming the models that exist."""
        with self._db.read() as session:
            return self._model_record(session, self._model_row(session, name))

    def list_models(self) -> list[Model]:
        """Every model, by name, with its aliases and latest version number."""
        with self._db.read() as session:
            rows = list(session.scalars(select(ModelRow).order_by(ModelRow.name)))
            latest = {model_id: number for model_id, number in session.execute(
                select(ModelVersionRow.model_id, func.max(ModelVersionRow.version))
                .group_by(ModelVersionRow.model_id))}
            aliases: dict[int, dict[str, int]] = defaultdict(dict)
            for model_id, alias, version in session.execute(
                select(AliasRow.model_id, AliasRow.alias, ModelVersionRow.version)
                .join(ModelVersionRow, ModelVersionRow.id == AliasRow.version_id)
                .order_by(AliasRow.alias)
            ):
                aliases[model_id][alias] = version
            return [Model(id=r.id, name=r.name, description=r.description,
                          created_at=r.created_at, latest_version=latest.get(r.id),
                          aliases=aliases.get(r.id, {})) for r in rows]

    def get_version(self, name: str, version: int) -> ModelVersion:
        """Version ``version`` of model ``name``. Raises NotFound saying which exist."""
        with self._db.read() as session:
            model = self._model_row(session, name)
            return self._records(session, model, [self._version_row(session, model, version)])[0]

    def latest_version(self, name: str) -> ModelVersion:
        """The highest-numbered version of model ``name``."""
        with self._db.read() as session:
            model = self._model_row(session, name)
            row = session.scalars(
                select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version.desc()).limit(1)).one_or_none()
            if row is None:
                raise NotFound(f"model '{name}' has no versions; register one first")
            return self._records(session, model, [row])[0]

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version that ``name@alias`` points to. Raises NotFound naming the aliases."""
        with self._db.read() as session:
            model = self._model_row(session, name)
            row = session.scalars(
                select(ModelVersionRow)
                .join(AliasRow, AliasRow.version_id == ModelVersionRow.id)
                .where(AliasRow.model_id == model.id, AliasRow.alias == alias)
            ).one_or_none()
            if row is None:
                names = self._alias_names(session, model.id)
                has = f"its aliases: {', '.join(names)}" if names else "it has no aliases"
                raise NotFound(f"no alias '{alias}' on model '{name}'; {has}")
            return self._records(session, model, [row])[0]

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of model ``name``, oldest first."""
        with self._db.read() as session:
            model = self._model_row(session, name)
            rows = list(session.scalars(
                select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version)))
            return self._records(session, model, rows)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with self._db.read() as session:
            model = self._model_row(session, name)
            stmt = select(AliasEventRow).where(AliasEventRow.model_id == model.id)
            if alias is not None:
                stmt = stmt.where(AliasEventRow.alias == alias)
            return [
                AliasEvent(model=name, alias=e.alias, from_version=e.from_version,
                           to_version=e.to_version, reason=e.reason, at=e.at)
                for e in session.scalars(stmt.order_by(AliasEventRow.id))
            ]

    def run_git_commit(self, run_id: str) -> str:
        """The git commit recorded by run ``run_id``. Raises NotFound for an unknown run."""
        with self._db.read() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"no run '{run_id}'; pass the id of a tracked run (run.id)")
            return row.git_commit

    def dataset_version_exists(self, dataset_version_id: int) -> bool:
        """Whether a dataset version with this id exists."""
        with self._db.read() as session:
            return session.get(DatasetVersionRow, dataset_version_id) is not None

    # -- writes -----------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        blob_sha256: str,
        format: str,
        flavor: str = "",
        run_id: str | None = None,
        dataset_version_id: int | None = None,
        signature: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        code_version: str = "",
        description: str = "",
    ) -> ModelVersion:
        """Insert the next version of model ``name`` (creating the model) in one transaction.

        Raises:
            NotFound: the run or dataset version it names does not exist.
        """
        payload = {
            "signature_json": json.dumps(signature or {}, sort_keys=True),
            "metrics_json": json.dumps(metrics or {}, sort_keys=True),
            "extra_json": json.dumps(extra or {}, sort_keys=True),
        }

        def insert(session: Session) -> ModelVersion:
            now = time.time()
            if run_id is not None and session.get(RunRow, run_id) is None:
                raise NotFound(f"no run '{run_id}'; pass the id of a tracked run (run.id)")
            if (dataset_version_id is not None
                    and session.get(DatasetVersionRow, dataset_version_id) is None):
                raise NotFound(f"no dataset version with id {dataset_version_id}")
            model = session.scalars(
                select(ModelRow).where(ModelRow.name == name).with_for_update()
            ).one_or_none()
            if model is None:
                model = ModelRow(name=name, description="", created_at=now)
                session.add(model)
                session.flush()
            latest = session.scalar(select(func.max(ModelVersionRow.version))
                                    .where(ModelVersionRow.model_id == model.id))
            number = max(latest or 0, model.last_version or 0) + 1
            model.last_version = number
            row = ModelVersionRow(
                model_id=model.id, version=number, run_id=run_id,
                dataset_version_id=dataset_version_id, blob_sha256=blob_sha256,
                format=format, flavor=flavor, code_version=code_version,
                description=description, created_at=now, **payload,
            )
            session.add(row)
            session.flush()
            return self._records(session, model, [row])[0]

        return self._write_racing(insert)

    def set_description(self, name: str, description: str) -> None:
        """Replace the description of model ``name``."""

        def update(session: Session) -> None:
            self._model_row(session, name).description = description

        self._db.write(update)

    def set_alias(self, name: str, alias: str, version: int, reason: str = "") -> AliasEvent | None:
        """Point ``alias`` at ``version`` and record the move, in one transaction.

        Returns:
            The recorded move, or ``None`` when the alias already pointed there.
        """

        def move(session: Session) -> AliasEvent | None:
            model = self._model_row(session, name, lock=True)
            target = self._version_row(session, model, version)
            current = session.scalars(
                select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.alias == alias)
                .with_for_update()).one_or_none()
            now = time.time()
            from_version: int | None = None
            if current is None:
                session.add(AliasRow(model_id=model.id, alias=alias, version_id=target.id,
                                     updated_at=now))
            else:
                if current.version_id == target.id:
                    return None
                from_version = session.scalar(select(ModelVersionRow.version)
                                              .where(ModelVersionRow.id == current.version_id))
                current.version_id = target.id
                current.updated_at = now
            session.add(AliasEventRow(model_id=model.id, alias=alias, from_version=from_version,
                                      to_version=version, reason=reason, at=now))
            session.flush()
            return AliasEvent(model=name, alias=alias, from_version=from_version,
                              to_version=version, reason=reason, at=now)

        return self._write_racing(move)

    def remove_alias(self, name: str, alias: str, reason: str = "") -> AliasEvent:
        """Remove ``alias`` from model ``name`` and record it. Raises NotFound if absent."""

        def remove(session: Session) -> AliasEvent:
            model = self._model_row(session, name, lock=True)
            current = session.scalars(
                select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.alias == alias)
            ).one_or_none()
            if current is None:
                names = self._alias_names(session, model.id)
                has = f"its aliases: {', '.join(names)}" if names else "it has no aliases"
                raise NotFound(f"no alias '{alias}' on model '{name}'; {has}")
            from_version = session.scalar(select(ModelVersionRow.version)
                                          .where(ModelVersionRow.id == current.version_id))
            session.delete(current)
            now = time.time()
            session.add(AliasEventRow(model_id=model.id, alias=alias, from_version=from_version,
                                      to_version=None, reason=reason, at=now))
            return AliasEvent(model=name, alias=alias, from_version=from_version,
                              to_version=None, reason=reason, at=now)

        return self._db.write(remove)

    def delete_version(self, name: str, version: int, *, force: bool = False) -> ModelVersion:
        """Delete one version; with ``force`` its aliases are removed (and recorded) first.

        Returns:
            The deleted version as it was.

        Raises:
            NotFound: no such model or version.
            Conflict: aliases point at it and ``force`` is false.
        """

        def drop(session: Session) -> ModelVersion:
            model = self._model_row(session, name, lock=True)
            row = self._version_row(session, model, version)
            record = self._records(session, model, [row])[0]
            if record.aliases and not force:
                raise Conflict(
                    f"version {version} of model '{name}' is aliased as "
                    f"{', '.join(record.aliases)}; move the alias to another version first, "
                    "or pass force=True to remove it"
                )
            now = time.time()
            for alias in record.aliases:
                session.add(AliasEventRow(
                    model_id=model.id, alias=alias, from_version=version, to_version=None,
                    reason=f"version {version} deleted", at=now))
            session.execute(delete(AliasRow).where(AliasRow.version_id == row.id))
            session.execute(delete(ModelVersionRow).where(ModelVersionRow.id == row.id))
            return record

        return self._db.write(drop)

    def delete_model(self, name: str) -> list[ModelVersion]:
        """Delete a model with its versions, aliases and alias history.

        Returns:
            The deleted versions as they were.
        """

        def drop(session: Session) -> list[ModelVersion]:
            model = self._model_row(session, name, lock=True)
            rows = list(session.scalars(select(ModelVersionRow)
                                        .where(ModelVersionRow.model_id == model.id)))
            records = self._records(session, model, rows)
            session.execute(delete(AliasRow).where(AliasRow.model_id == model.id))
            session.execute(delete(AliasEventRow).where(AliasEventRow.model_id == model.id))
            session.execute(delete(ModelVersionRow).where(ModelVersionRow.model_id == model.id))
            session.execute(delete(ModelRow).where(ModelRow.id == model.id))
            return records

        return self._db.write(drop)
