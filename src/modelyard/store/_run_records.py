"""Run records read from rows, and the lookups every run query shares.

Turns ``runs`` rows into frozen :class:`Run` records (ORM rows never leave ``store/``);
used by :mod:`._runs`, :mod:`._run_details` and :mod:`._run_metrics`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ._entities import Run, RunArtifact, RunInput
from ._schema import (
    DatasetRow,
    DatasetVersionRow,
    LatestMetricRow,
    ParamRow,
    RunArtifactRow,
    RunInputRow,
    RunRow,
    TagRow,
)

__all__ = ["assemble_runs", "descendants", "no_run"]


def assemble_runs(session: Session, rows: Sequence[RunRow], *,
                  metrics: bool = True) -> list[Run]:
    """Frozen :class:`Run` records of ``rows`` with their params, tags and latest metrics.

    Inputs and artifacts come too; five queries in all, whatever the number of runs. With
    ``metrics=False`` the latest metric values (read from ``latest_metrics``) are left out.
    """
    ids = [r.id for r in rows]
    if not ids:
        return []
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    latest: dict[str, dict[str, float]] = {i: {} for i in ids}
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
    for rid, k, value in session.execute(
        select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value)
        .where(LatestMetricRow.run_id.in_(ids)).order_by(LatestMetricRow.key)
    ) if metrics else ():
        latest[rid][k] = float(value)
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
            params=params[r.id], metrics=latest[r.id], tags=tags[r.id],
            inputs=tuple(inputs[r.id]), artifacts=tuple(arts[r.id]),
        )
        for r in rows
    ]


def descendants(session: Session, run_id: str) -> list[str]:
    """The run and every run below it, parents before children."""
    found = [run_id]
    frontier = [run_id]
    while frontier:
        frontier = list(session.scalars(select(RunRow.id).where(RunRow.parent_id.in_(frontier))))
        found.extend(frontier)
    return found


def no_run(run_id: str) -> str:
    """The NotFound message for a run id that names no run."""
    hint = (" (run ids are 32 hex characters)" if len(run_id) != 32
            else "; list runs with yard.runs.list() or `modelyard runs list`")
    return f"no run with id {run_id!r}{hint}"
