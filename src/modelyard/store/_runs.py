"""Runs: create, read, list, end, heartbeat, reap and delete them.

:class:`RunRepository` is the one object callers use for everything about runs; it
inherits params, tags, artifacts and inputs from :mod:`._run_details` and metrics from
:mod:`._run_metrics`. Callers get frozen records from ``_entities`` back, never ORM rows.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ._db import Database
from ._entities import Run
from ._run_details import RunDetails
from ._run_metrics import MetricValue, RunMetrics
from ._run_records import assemble_runs, descendants, no_run
from ._schema import ModelRow, ModelVersionRow, RunArtifactRow, RunRow, TagRow

__all__ = ["LiveRun", "RunRepository"]


@dataclass(frozen=True)
class LiveRun:
    """What the reaper needs to know about a run still marked running."""

    id: str
    host: str
    pid: int
    pid_started_at: float
    heartbeat_at: float


class RunRepository(RunDetails, RunMetrics):
    """Reads and writes runs, params, metrics, tags, artifacts and run inputs.

    Args:
        db: the database that holds the runs.

    Example:
        >>> store.runs.get("0f3c...")  # doctest: +SKIP
        Run(id='0f3c...', name='baseline', ...)
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- runs ---------------------------------------------------------------------------

    def create(
        self,
        *,
        run_id: str,
        name: str,
        experiment: str,
        parent_id: str | None,
        host: str,
        pid: int,
        pid_started_at: float,
        git_commit: str,
        environment: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
        start_time: float | None = None,
    ) -> Run:
        """Insert a new running run (and its first tags).

        Raises:
            NotFound: ``parent_id`` names no run.
        """
        now = time.time() if start_time is None else start_time

        def write(session: Session) -> None:
            if parent_id is not None and session.get(RunRow, parent_id) is None:
                raise NotFound(f"no parent run {parent_id!r}; pass the id of an existing run")
            session.add(RunRow(
                id=run_id, name=name, experiment=experiment, parent_id=parent_id,
                status="running", start_time=now, end_time=None, heartbeat_at=now,
                host=host, pid=pid, pid_started_at=pid_started_at, git_commit=git_commit,
                environment_json=json.dumps(dict(environment), sort_keys=True, default=str),
                failure="",
            ))
            session.flush()
            if tags:
                session.execute(insert(TagRow), [
                    {"run_id": run_id, "key": k, "value": v} for k, v in tags.items()
                ])

        self._db.write(write)
        return Run(
            id=run_id, name=name, experiment=experiment, parent_id=parent_id,
            status="running", start_time=now, end_time=None, host=host, pid=pid,
            git_commit=git_commit, environment=json.loads(json.dumps(
                dict(environment), sort_keys=True, default=str)),
            failure="", tags=dict(tags or {}),
        )

    def get(self, run_id: str) -> Run:
        """The run with its params, latest metric values, tags, inputs and artifacts.

        Raises:
            NotFound: no run has this id.
        """
        with self._db.read() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(no_run(run_id))
            return assemble_runs(session, [row])[0]

    def list(
        self,
        *,
        experiment: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Run]:
        """Runs matching every filter given, newest first."""
        query = select(RunRow)
        if experiment is not None:
            query = query.where(RunRow.experiment == experiment)
        if status is not None:
            query = query.where(RunRow.status == status)
        if parent_id is not None:
            query = query.where(RunRow.parent_id == parent_id)
        query = query.order_by(RunRow.start_time.desc(), RunRow.id).limit(limit)
        with self._db.read() as session:
            return assemble_runs(session, list(session.scalars(query)))

    def ids_starting(self, prefix: str, limit: int = 2) -> builtins.list[str]:
        """Ids of runs that start with ``prefix`` (hex only), at most ``limit`` of them."""
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return []
        query = select(RunRow.id).where(RunRow.id.startswith(prefix)).order_by(RunRow.id)
        with self._db.read() as session:
            return list(session.scalars(query.limit(limit)))

    def exists(self, run_id: str) -> bool:
        """Whether a run has this id."""
        with self._db.read() as session:
            return session.get(RunRow, run_id) is not None

    def end(self, run_id: str, *, status: str, failure: str = "",
            end_time: float | None = None) -> None:
        """Mark a run ended with ``status`` (``finished``, ``failed`` or ``killed``)."""
        now = time.time() if end_time is None else end_time

        def write(session: Session) -> None:
            session.execute(
                update(RunRow).where(RunRow.id == run_id).values(
                    status=status, end_time=now, heartbeat_at=now, failure=failure
                )
            )

        self._db.write(write)

    def finish(self, run_id: str, values: Sequence[MetricValue], *, status: str,
               failure: str = "") -> None:
        """Insert a run's last metric values and mark it ended, in one transaction."""
        now = time.time()

        def write(session: Session) -> None:
            self._insert_metrics(session, values)
            session.execute(
                update(RunRow).where(RunRow.id == run_id).values(
                    status=status, end_time=now, heartbeat_at=now, failure=failure
                )
            )

        self._db.write(write)

    def heartbeat(self, run_ids: Sequence[str], at: float | None = None) -> None:
        """Record that these running runs are alive now."""
        if not run_ids:
            return
        now = time.time() if at is None else at

        def write(session: Session) -> None:
            session.execute(
                update(RunRow)
                .where(RunRow.id.in_(list(run_ids)), RunRow.status == "running")
                .values(heartbeat_at=now)
            )

        self._db.write(write)

    def live(self) -> builtins.list[LiveRun]:
        """Every run still marked running, for the reaper."""
        query = select(RunRow.id, RunRow.host, RunRow.pid, RunRow.pid_started_at,
                       RunRow.heartbeat_at).where(RunRow.status == "running")
        with self._db.read() as session:
            return [LiveRun(*row) for row in session.execute(query)]

    def fail_dead(self, failures: Mapping[str, str]) -> builtins.list[str]:
        """Mark runs failed (only those still running); returns the ids marked."""
        if not failures:
            return []
        now = time.time()

        def write(session: Session) -> builtins.list[str]:
            marked = []
            for run_id, failure in failures.items():
                result = session.execute(
                    update(RunRow)
                    .where(RunRow.id == run_id, RunRow.status == "running")
                    .values(status="failed", end_time=now, failure=failure)
                )
                if getattr(result, "rowcount", 0):
                    marked.append(run_id)
            return marked

        marked: builtins.list[str] = self._db.write(write)
        return marked

    def delete(self, run_id: str) -> builtins.list[str]:
        """Delete a run and, by cascade, its params, metrics, tags, inputs and child runs.

        Returns:
            The sha256 of every blob the deleted runs pointed to (``gc`` frees them).

        Raises:
            NotFound: no run has this id.
            Conflict: a model version was registered from the run or one of its children.
        """

        def write(session: Session) -> builtins.list[str]:
            if session.get(RunRow, run_id) is None:
                raise NotFound(no_run(run_id))
            ids = descendants(session, run_id)
            used = session.execute(
                select(ModelRow.name, ModelVersionRow.version, ModelVersionRow.run_id)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(ModelVersionRow.run_id.in_(ids))
                .order_by(ModelRow.name, ModelVersionRow.version)
            ).all()
            if used:
                names = ", ".join(f"model {m!r} version {v}" for m, v, _ in used)
                whose = "it" if all(r == run_id for _, _, r in used) else "it or a child run"
                raise Conflict(
                    f"run {run_id} cannot be deleted: {whose} produced {names}; delete that "
                    "model version first"
                )
            blobs = list(session.scalars(
                select(RunArtifactRow.blob_sha256).where(RunArtifactRow.run_id.in_(ids))
            ))
            # Children first, deepest last-found first, so no FK check trips on the way.
            for rid in reversed(ids):
                session.execute(delete(RunRow).where(RunRow.id == rid))
            return blobs

        blobs: builtins.list[str] = self._db.write(write)
        return blobs
