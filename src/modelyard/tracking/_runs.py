"""The runs API of a yard: start, read, list, delete, reap."""

from __future__ import annotations

import builtins
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import Conflict, Corrupted, InvalidInput, NotFound
from ..store import Metric, Run, Store
from ._active import ActiveRun
from ._environment import capture_environment, process_alive, process_identity
from ._open_runs import open_runs
from ._values import as_text, check_key
from ._writer import writer

__all__ = ["Runs"]

_STATUSES = ("running", "finished", "failed", "killed")


class Runs:
    """Start, read, list and delete the tracked runs of one store.

    Reached as ``yard.runs``; ``yard.run(...)`` is :meth:`start`.

    Args:
        store: the store holding the runs.

    Example:
        >>> with yard.runs.start("baseline") as run:  # doctest: +SKIP
        ...     run.log_metric("auc", 0.91)
        >>> yard.runs.get(run.id).metrics  # doctest: +SKIP
        {'auc': 0.91}
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._repo = store.runs

    # -- starting -----------------------------------------------------------------------

    def start(
        self,
        name: str | None = None,
        *,
        experiment: str = "default",
        parent_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        """Start a tracked run, recording the process, Python, packages and git commit.

        Args:
            name: a name for people (``run-<id prefix>`` by default); need not be unique.
            experiment: the experiment the run belongs to.
            parent_id: the id of the run this one is nested under.
            tags: initial tags.

        Returns:
            The run in progress; use it in a ``with`` block so it always ends.

        Raises:
            InvalidInput: an empty or too long name or experiment.
            NotFound: ``parent_id`` names no run.

        Example:
            >>> with yard.run("baseline", experiment="fraud") as run:  # doctest: +SKIP
            ...     run.log_param("C", 1.0)
        """
        return self._start(name, experiment=experiment, parent_id=parent_id, tags=tags)

    def _start(
        self,
        name: str | None,
        *,
        experiment: str = "default",
        parent_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
    ) -> ActiveRun:
        for what, value in (("run name", name), ("experiment", experiment)):
            if value is not None and (not isinstance(value, str) or not value.strip()
                                      or len(value) > 200):
                raise InvalidInput(
                    f"{what} {value!r} must be a non-empty string of at most 200 characters"
                )
        run_id = uuid.uuid4().hex
        env = dict(environment) if environment is not None else capture_environment()
        host, pid, pid_started_at = process_identity()
        record = self._repo.create(
            run_id=run_id,
            name=name or f"run-{run_id[:8]}",
            experiment=experiment,
            parent_id=parent_id,
            host=host,
            pid=pid,
            pid_started_at=pid_started_at,
            git_commit=str(env.get("git_commit") or ""),
            environment=env,
            tags={check_key(k, "tag"): as_text(v) for k, v in (tags or {}).items()},
        )
        return ActiveRun(record, store=self._store, owner=self, start_child=self._start,
                         get_run=self.get)

    # -- reading ------------------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        """A run with its params, latest metric values, tags, inputs and artifacts.

        Runs whose process died are marked failed first (see :meth:`reap`); a run open in
        this process has its buffered metric values written first.

        Raises:
            NotFound: no run has this id.

        Example:
            >>> yard.runs.get("3f2a...").status  # doctest: +SKIP
            'finished'
        """
        self._flush_local(run_id)
        self.reap()
        return self._repo.get(run_id)

    def list(
        self,
        *,
        experiment: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Run]:
        """Runs matching every filter given, newest first.

        Args:
            experiment: only this experiment's runs.
            status: only runs in this state (``running``, ``finished``, ``failed``,
                ``killed``).
            parent_id: only the runs nested directly under this run.
            limit: at most this many runs.

        Raises:
            InvalidInput: an unknown status or a limit below 1.

        Example:
            >>> [r.name for r in yard.runs.list(experiment="fraud", limit=5)]  # doctest: +SKIP
        """
        if status is not None and status not in _STATUSES:
            raise InvalidInput(f"status {status!r} is not one of {', '.join(_STATUSES)}")
        if limit < 1:
            raise InvalidInput(f"limit {limit} must be at least 1")
        for run in open_runs():
            if run.owner is self:
                writer().flush([run.buffer])
        self.reap()
        return self._repo.list(experiment=experiment, status=status, parent_id=parent_id,
                               limit=limit)

    def metric_history(self, run_id: str, key: str) -> builtins.list[Metric]:
        """Every value logged for one metric of a run, by step.

        Raises:
            NotFound: no run has this id.

        Example:
            >>> [m.value for m in yard.runs.metric_history(run.id, "loss")]  # doctest: +SKIP
            [0.9, 0.5, 0.3]
        """
        self._flush_local(run_id)
        return self._repo.metric_history(run_id, key)

    def download_artifact(self, run_id: str, path: str,
                          dest: str | os.PathLike[str]) -> Path:
        """Copy an artifact (a file, or every file under a folder path) out of the store.

        Each file's hash is checked on the way out.

        Args:
            run_id: the run.
            path: the artifact path, e.g. ``"model.skops"`` or ``"plots"``.
            dest: an existing folder to copy into, or the path to write.

        Returns:
            The file or folder written.

        Raises:
            NotFound: no such run or artifact (the message lists what the run has).
            Corrupted: a stored file no longer matches its hash.

        Example:
            >>> yard.runs.download_artifact(run.id, "config.json", "/tmp")  # doctest: +SKIP
            PosixPath('/tmp/config.json')
        """
        arts = self._repo.artifacts(run_id)
        wanted = str(PurePosixPath(path)).strip("/")
        exact = [a for a in arts if a.path == wanted]
        under = [a for a in arts if a.path.startswith(wanted + "/")]
        if not exact and not under:
            have = ", ".join(a.path for a in arts[:10]) or "none"
            more = f" and {len(arts) - 10} more" if len(arts) > 10 else ""
            raise NotFound(f"run {run_id} has no artifact {path!r}; it has: {have}{more}")
        target = Path(dest)
        if target.is_dir():
            target = target / PurePosixPath(wanted).name
        if exact:
            self._copy_blob(exact[0].blob_sha256, target)
            return target
        root = target.resolve()
        planned = [(art, target / art.path[len(wanted) + 1:]) for art in under]
        for art, file in planned:  # all checked before any is written
            if root not in file.resolve().parents:
                raise Corrupted(
                    f"run {run_id}'s artifact path {art.path!r} leads outside {str(target)!r}"
                    "; nothing was written. The stored path was altered: delete the artifact "
                    "or the run")
        for art, file in planned:
            self._copy_blob(art.blob_sha256, file)
        return target

    def _copy_blob(self, sha256: str, target: Path) -> None:
        src = self._store.artifacts.open_verified(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        shutil.copyfile(src, part)
        os.replace(part, target)

    # -- changing -----------------------------------------------------------------------

    def delete(self, run_id: str) -> None:
        """Delete a run with its params, metrics, tags, inputs and nested runs.

        Its artifacts' bytes stay until ``yard.gc()`` frees those nothing else uses.

        Raises:
            NotFound: no run has this id.
            Conflict: the run is still running, or a model version was registered from it
                (the message names the model and version).

        Example:
            >>> yard.runs.delete("3f2a...")  # doctest: +SKIP
        """
        run = self.get(run_id)
        if run.status == "running":
            raise Conflict(
                f"run {run_id} ({run.name!r}) is still running (process {run.pid} on "
                f"{run.host}); end it first"
            )
        self._repo.delete(run_id)

    def reap(self) -> builtins.list[str]:
        """Mark failed the runs whose process died while they were running.

        On this host a run's process is dead when its pid is gone or now belongs to a
        process started at another time; on another host, when its heartbeat is older than
        four ``run_heartbeat_s``. :meth:`get` and :meth:`list` call this first.

        Returns:
            The ids of the runs marked failed.

        Example:
            >>> yard.runs.reap()  # doctest: +SKIP
            ['3f2a...']
        """
        host, _, _ = process_identity()
        now = time.time()
        stale_s = 4 * self._store.settings.run_heartbeat_s
        failures = {}
        for live in self._repo.live():
            if live.host == host:
                if process_alive(live.pid, live.pid_started_at):
                    continue
                failures[live.id] = f"process {live.pid} on {live.host} died"
            elif now - live.heartbeat_at > stale_s:
                failures[live.id] = (f"process {live.pid} on {live.host} died (no heartbeat "
                                     f"for {now - live.heartbeat_at:.0f} s)")
        marked: builtins.list[str] = self._repo.fail_dead(failures)
        return marked

    def close(self) -> None:
        """End every run of this store still open in this process, writing its metrics.

        Raises:
            ModelyardError: the first error met while ending them (all are tried).
        """
        first: Exception | None = None
        for run in reversed(open_runs()):
            if run.owner is self:
                try:
                    run.end("finished", "")
                except Exception as exc:
                    first = first or exc
        if first is not None:
            raise first

    def _flush_local(self, run_id: str) -> None:
        for run in open_runs():
            if run.id == run_id:
                writer().flush([run.buffer])
