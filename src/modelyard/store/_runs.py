"""Metadata of runs, params, metrics, tags, artifacts and run inputs.

All SQL about runs lives here; callers get frozen records from ``_entities`` back, never
ORM rows. Metric values arrive in bulk from the tracking writer thread
(:meth:`RunRepository.insert_metrics`), one transaction per batch.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ._db import Database
from ._entities import Metric, Run, RunArtifact, RunInput
from ._schema import (
    DatasetRow,
    DatasetVersionRow,
    MetricRow,
    ModelRow,
    ModelVersionRow,
    ParamRow,
    RunArtifactRow,
    RunInputRow,
    RunRow,
    TagRow,
)

__all__ = ["LiveRun", "MetricValue", "RunRepository"]

#: One buffered metric value: (run_id, key, value, step, timestamp).
MetricValue = tuple[str, str, float, int, float]

# SQLite turns a bound NaN into NULL, which the NOT NULL column refuses; the text 'NaN' keeps
# its value there (REAL affinity leaves non-numeric text alone) and reads back via float().
_SQLITE_METRIC_INSERT = (
    "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)"
)
_METRIC_INSERT = (
    "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (%s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class LiveRun:
    """What the reaper needs to know about a run still marked running."""

    id: str
    host: str
    pid: int
    pid_started_at: float
    heartbeat_at: float


class RunRepository:
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
                raise NotFound(_no_run(run_id))
            return self._assemble(session, [row])[0]

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
            return self._assemble(session, list(session.scalars(query)))

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
                raise NotFound(_no_run(run_id))
            ids = _descendants(session, run_id)
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

    # -- params and tags ----------------------------------------------------------------

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Record params; re-logging the same value is a no-op.

        Raises:
            Conflict: a param already has a different value (params are immutable).
            NotFound: no run has this id.
        """
        if not params:
            return

        def write(session: Session) -> None:
            if session.get(RunRow, run_id) is None:
                raise NotFound(_no_run(run_id))
            old = dict(session.execute(
                select(ParamRow.key, ParamRow.value)
                .where(ParamRow.run_id == run_id, ParamRow.key.in_(list(params)))
            ).all())
            for key, value in params.items():
                if key in old and old[key] != value:
                    raise Conflict(
                        f"param {key!r} of run {run_id} is already {old[key]!r}, cannot change "
                        f"it to {value!r}; params are immutable, log the new value under "
                        "another key or start a new run"
                    )
            new = [{"run_id": run_id, "key": k, "value": v}
                   for k, v in params.items() if k not in old]
            if new:
                session.execute(insert(ParamRow), new)

        self._db.write(write)

    def params(self, run_id: str) -> dict[str, str]:
        """The run's params."""
        with self._db.read() as session:
            return dict(session.execute(
                select(ParamRow.key, ParamRow.value).where(ParamRow.run_id == run_id)
            ).all())

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set tags, replacing earlier values of the same keys.

        Raises:
            NotFound: no run has this id.
        """
        if not tags:
            return

        def write(session: Session) -> None:
            if session.get(RunRow, run_id) is None:
                raise NotFound(_no_run(run_id))
            stmt = self._insert(TagRow).values(
                [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
            )
            session.execute(stmt.on_conflict_do_update(
                index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
            ))

        self._db.write(write)

    # -- metrics ------------------------------------------------------------------------

    def insert_metrics(self, values: Sequence[MetricValue]) -> None:
        """Insert many metric values in one transaction (the writer thread's bulk path)."""
        if values:
            self._db.write(lambda session: self._insert_metrics(session, values))

    def _insert_metrics(self, session: Session, values: Sequence[MetricValue]) -> None:
        if not values:
            return
        # Straight to the driver's executemany: SQLAlchemy's per-row bind processing costs
        # more than the insert itself for thousands of rows.
        if self._db.is_sqlite:
            sql = _SQLITE_METRIC_INSERT
            rows: Sequence[tuple[Any, ...]] = [
                (r, k, "NaN" if v != v else v, s, t) for r, k, v, s, t in values
            ]
        else:
            sql, rows = _METRIC_INSERT, values
        session.connection().exec_driver_sql(sql, list(rows))

    def metric_history(self, run_id: str, key: str) -> builtins.list[Metric]:
        """Every value of one metric of a run, by step then time.

        Raises:
            NotFound: no run has this id.
        """
        with self._db.read() as session:
            if session.get(RunRow, run_id) is None:
                raise NotFound(_no_run(run_id))
            rows = session.execute(
                select(MetricRow.key, MetricRow.value, MetricRow.step, MetricRow.timestamp)
                .where(MetricRow.run_id == run_id, MetricRow.key == key)
                .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
            ).all()
        return [Metric(key=k, value=float(v), step=int(s), timestamp=float(t))
                for k, v, s, t in rows]

    def metric_keys(self, run_id: str) -> builtins.list[str]:
        """The distinct metric keys a run logged, sorted."""
        with self._db.read() as session:
            return sorted(session.scalars(
                select(MetricRow.key).where(MetricRow.run_id == run_id).distinct()
            ))

    def max_steps(self, run_id: str) -> dict[str, int]:
        """The largest step logged per metric key (to resume step counters)."""
        with self._db.read() as session:
            return {k: int(s) for k, s in session.execute(
                select(MetricRow.key, func.max(MetricRow.step))
                .where(MetricRow.run_id == run_id).group_by(MetricRow.key)
            )}

    # -- artifacts and inputs -----------------------------------------------------------

    def add_artifacts(self, run_id: str, artifacts: Iterable[RunArtifact]) -> None:
        """Record files logged by a run; a path logged again points to the new blob.

        Raises:
            NotFound: no run has this id.
        """
        rows = [{"run_id": run_id, "path": a.path, "blob_sha256": a.blob_sha256, "size": a.size}
                for a in artifacts]
        if not rows:
            return

        def write(session: Session) -> None:
            if session.get(RunRow, run_id) is None:
                raise NotFound(_no_run(run_id))
            stmt = self._insert(RunArtifactRow).values(rows)
            session.execute(stmt.on_conflict_do_update(
                index_elements=["run_id", "path"],
                set_={"blob_sha256": stmt.excluded.blob_sha256, "size": stmt.excluded.size},
            ))

        self._db.write(write)

    def artifacts(self, run_id: str) -> builtins.list[RunArtifact]:
        """The files a run logged, by path.

        Raises:
            NotFound: no run has this id.
        """
        with self._db.read() as session:
            if session.get(RunRow, run_id) is None:
                raise NotFound(_no_run(run_id))
            return [RunArtifact(p, s, int(n)) for p, s, n in session.execute(
                select(RunArtifactRow.path, RunArtifactRow.blob_sha256, RunArtifactRow.size)
                .where(RunArtifactRow.run_id == run_id).order_by(RunArtifactRow.path)
            )]

    def add_input(self, run_id: str, dataset_version_id: int, role: str) -> RunInput:
        """Record that a run used a dataset version (lineage); recording it twice is a no-op.

        Raises:
            NotFound: no such run or dataset version.
        """

        def write(session: Session) -> RunInput:
            if session.get(RunRow, run_id) is None:
                raise NotFound(_no_run(run_id))
            found = session.execute(
                select(DatasetRow.name, DatasetVersionRow.version)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetVersionRow.id == dataset_version_id)
            ).first()
            if found is None:
                raise NotFound(
                    f"no dataset version with id {dataset_version_id}; pass a version from "
                    "yard.datasets (e.g. yard.datasets.get('name@1'))"
                )
            stmt = self._insert(RunInputRow).values(
                run_id=run_id, dataset_version_id=dataset_version_id, role=role
            )
            session.execute(stmt.on_conflict_do_nothing())
            return RunInput(dataset_version_id, f"{found[0]}@{found[1]}", role)

        result: RunInput = self._db.write(write)
        return result

    # -- helpers ------------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        return (sqlite_insert if self._db.is_sqlite else pg_insert)(table)

    def _assemble(self, session: Session, rows: Sequence[RunRow]) -> builtins.list[Run]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        inputs: dict[str, list[RunInput]] = {i: [] for i in ids}
        arts: dict[str, list[RunArtifact]] = {i: [] for i in ids}
        for rid, k, v in session.execute(
            select(ParamRow.run_id, ParamRow.key, ParamRow.value)
            .where(ParamRow.run_id.in_(ids)).order_by(ParamRow.key)
        ):
            params[rid][k] = v
        for rid, k, v in session.execute(
            select(TagRow.run_id, TagRow.key, TagRow.value)
            .where(TagRow.run_id.in_(ids)).order_by(TagRow.key)
        ):
            tags[rid][k] = v
        ranked = select(
            MetricRow.run_id, MetricRow.key, MetricRow.value,
            func.row_number().over(
                partition_by=(MetricRow.run_id, MetricRow.key),
                order_by=(MetricRow.step.desc(), MetricRow.timestamp.desc(),
                          MetricRow.id.desc()),
            ).label("rank"),
        ).where(MetricRow.run_id.in_(ids)).subquery()
        for rid, k, v in session.execute(
            select(ranked.c.run_id, ranked.c.key, ranked.c.value)
            .where(ranked.c.rank == 1).order_by(ranked.c.key)
        ):
            metrics[rid][k] = float(v)
        for rid, dvid, role, dname, dver in session.execute(
            select(RunInputRow.run_id, RunInputRow.dataset_version_id, RunInputRow.role,
                   DatasetRow.name, DatasetVersionRow.version)
            .join(DatasetVersionRow, DatasetVersionRow.id == RunInputRow.dataset_version_id)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(RunInputRow.run_id.in_(ids))
            .order_by(RunInputRow.role, DatasetRow.name, DatasetVersionRow.version)
        ):
            inputs[rid].append(RunInput(int(dvid), f"{dname}@{dver}", role))
        for rid, path, sha, size in session.execute(
            select(RunArtifactRow.run_id, RunArtifactRow.path, RunArtifactRow.blob_sha256,
                   RunArtifactRow.size)
            .where(RunArtifactRow.run_id.in_(ids)).order_by(RunArtifactRow.path)
        ):
            arts[rid].append(RunArtifact(path, sha, int(size)))
        return [
            Run(
                id=r.id, name=r.name, experiment=r.experiment, parent_id=r.parent_id,
                status=r.status, start_time=r.start_time, end_time=r.end_time, host=r.host,
                pid=r.pid, git_commit=r.git_commit,
                environment=json.loads(r.environment_json or "{}"), failure=r.failure,
                params=params[r.id], metrics=metrics[r.id], tags=tags[r.id],
                inputs=tuple(inputs[r.id]), artifacts=tuple(arts[r.id]),
            )
            for r in rows
        ]


def _descendants(session: Session, run_id: str) -> builtins.list[str]:
    """The run and every run below it, parents before children."""
    found = [run_id]
    frontier = [run_id]
    while frontier:
        frontier = list(session.scalars(select(RunRow.id).where(RunRow.parent_id.in_(frontier))))
        found.extend(frontier)
    return found


def _no_run(run_id: str) -> str:
    hint = (" (run ids are 32 hex characters)" if len(run_id) != 32
            else "; list runs with yard.runs.list() or `modelyard runs list`")
    return f"no run with id {run_id!r}{hint}"
