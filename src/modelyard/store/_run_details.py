"""What a run records besides metrics: params, tags, artifacts and inputs (lineage)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ._db import Database
from ._entities import RunArtifact, RunInput
from ._run_records import no_run
from ._schema import (
    DatasetRow,
    DatasetVersionRow,
    ParamRow,
    RunArtifactRow,
    RunInputRow,
    RunRow,
    TagRow,
)

__all__ = ["RunDetails"]


class RunDetails:
    """Params, tags, artifacts and inputs of runs; :class:`~._runs.RunRepository` inherits
    these methods."""

    _db: Database

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
                raise NotFound(no_run(run_id))
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
                raise NotFound(no_run(run_id))
            stmt = self._db.insert(TagRow).values(
                [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
            )
            session.execute(stmt.on_conflict_do_update(
                index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
            ))

        self._db.write(write)

    # -- artifacts and inputs -----------------------------------------------------------

    def add_artifacts(self, run_id: str, artifacts: Iterable[RunArtifact]) -> None:
        """Record files logged by a run; a path logged again points to the new blob.

        Raises:
            NotFound: no run has this id.
            InvalidInput: a path that is not relative or leaves the run's folder.
        """
        rows = [{"run_id": run_id, "path": _inside(a.path), "blob_sha256": a.blob_sha256,
                 "size": a.size} for a in artifacts]
        if not rows:
            return

        def write(session: Session) -> None:
            if session.get(RunRow, run_id) is None:
                raise NotFound(no_run(run_id))
            stmt = self._db.insert(RunArtifactRow).values(rows)
            session.execute(stmt.on_conflict_do_update(
                index_elements=["run_id", "path"],
                set_={"blob_sha256": stmt.excluded.blob_sha256, "size": stmt.excluded.size},
            ))

        self._db.write(write)

    def artifacts(self, run_id: str) -> list[RunArtifact]:
        """The files a run logged, by path.

        Raises:
            NotFound: no run has this id.
        """
        with self._db.read() as session:
            if session.get(RunRow, run_id) is None:
                raise NotFound(no_run(run_id))
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
                raise NotFound(no_run(run_id))
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
            stmt = self._db.insert(RunInputRow).values(
                run_id=run_id, dataset_version_id=dataset_version_id, role=role
            )
            session.execute(stmt.on_conflict_do_nothing())
            return RunInput(dataset_version_id, f"{found[0]}@{found[1]}", role)

        result: RunInput = self._db.write(write)
        return result


def _inside(path: str) -> str:
    """``path`` when it names a file inside the run's folder; refused otherwise (absolute,
    ``..``, a drive or backslash, a NUL byte), so that no reader can be made to write
    outside the folder it downloads to."""
    parts = path.split("/")
    drive = len(path) > 1 and path[1] == ":" and path[0].isalpha()  # c:, on Windows
    if not path or path.startswith("/") or "\\" in path or "\0" in path or drive \
            or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(
            f"artifact path {path!r} does not stay inside the run's folder; use a relative "
            "path such as 'model.skops' or 'plots/roc.png', without '..'")
    return path
