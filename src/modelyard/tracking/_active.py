"""A run in progress: log params, metrics, tags, artifacts and inputs to it, then end it."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import Conflict, InvalidInput, ModelyardError, StorageUnavailable
from ..store import Run, RunArtifact, RunInput, Store
from ._open_runs import OpenRun, add_open, drop_open
from ._values import (
    MAX_FAILURE,
    artifact_path,
    as_text,
    check_key,
    check_number,
    check_step,
    describe_failure,
)
from ._writer import RunBuffer, writer

__all__ = ["ActiveRun", "active_run"]

_STATUSES = ("finished", "failed", "killed")
_END_FLUSH_ATTEMPTS = 3  # end() retries a failed write before giving up

_local = threading.local()


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def active_run() -> ActiveRun | None:
    """The innermost run entered with ``with`` in the current thread, or ``None``.

    Example:
        >>> with yard.run("baseline") as run:  # doctest: +SKIP
        ...     assert active_run() is run
    """
    stack = _stack()
    return stack[-1] if stack else None


class ActiveRun:
    """A run in progress; use it as a context manager so it always ends.

    Created by :meth:`Runs.start` (``yard.run(...)``), never directly. Metric values are
    buffered in memory and written by a background thread; :meth:`end` writes what is left,
    so every value is durable once the run has ended.

    Args:
        record: the stored run, just created.
        store: the store it lives in.
        owner: the ``Runs`` that started it (``Runs.close`` ends the runs it owns).
        start_child: starts a nested run, as ``Runs.start`` with ``parent_id`` and
            ``environment``.
        get_run: reads a stored run by id.

    Attributes:
        id: the run id (32 hex characters).
        name: the run's name.
        experiment: the experiment it belongs to.
        parent_id: the parent run's id for a nested run, else ``None``.

    Example:
        >>> with yard.run("baseline", tags={"team": "fraud"}) as run:  # doctest: +SKIP
        ...     run.log_params({"C": 1.0, "penalty": "l2"})
        ...     for epoch in range(10):
        ...         run.log_metric("loss", 1 / (epoch + 1))
    """

    def __init__(self, record: Run, *, store: Store, owner: object,
                 start_child: Callable[..., ActiveRun], get_run: Callable[[str], Run]) -> None:
        self._store = store
        self._start_child = start_child
        self._get_run = get_run
        self._repo = store.runs
        self._settings = store.settings
        self.id = record.id
        self.name = record.name
        self.experiment = record.experiment
        self.parent_id = record.parent_id
        self._environment = record.environment
        self._status: str | None = None
        self._end_lock = threading.Lock()
        self._steps: dict[str, int] = {}
        self._buffer = RunBuffer(record.id, self._repo, self._settings)
        self._append = self._buffer.values.append
        self._max_rows = self._settings.metric_flush_max_rows
        self._children: list[ActiveRun] = []
        add_open(OpenRun(self.id, owner, self._buffer, self.end))
        writer().register(self._buffer)

    # -- metrics ------------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: float | None = None) -> None:
        """Log one metric value; returns at once, a background thread writes it.

        Args:
            key: the metric's name, e.g. ``"val_loss"``.
            value: a number (int, float, NumPy scalar, 0-d tensor; NaN and inf allowed).
            step: the step; by default one more than this key's previous step (from 0).
            timestamp: seconds since the epoch (now by default).

        Raises:
            InvalidInput: an empty key, or a value that is not a number.
            Conflict: the run has ended.

        Example:
            >>> run.log_metric("loss", 0.25)  # doctest: +SKIP
        """
        if value.__class__ is not float:
            value = check_number(key, value)
        if self._status is not None:
            raise self._ended()
        steps = self._steps
        prev = steps.get(key)
        if prev is None:
            check_key(key, "metric")
        if step is None:
            step = 0 if prev is None else prev + 1
        elif step.__class__ is not int:
            step = check_step(step)
        if prev is None or step > prev:
            steps[key] = step
        self._append((self.id, key, value, step, timestamp or time.time()))
        if len(self._buffer.values) >= self._max_rows:
            writer().wake()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None,
                    timestamp: float | None = None) -> None:
        """Log several metric values at once (same step and time for all).

        Args:
            metrics: key to value.
            step: the step for every key (each key's own next step by default).
            timestamp: seconds since the epoch (now by default).

        Raises:
            InvalidInput: an empty key or a non-numeric value (nothing is logged then).

        Example:
            >>> run.log_metrics({"loss": 0.3, "acc": 0.91}, step=5)  # doctest: +SKIP
        """
        checked = {check_key(k, "metric"): check_number(k, v) for k, v in metrics.items()}
        at = timestamp or time.time()
        for key, value in checked.items():
            self.log_metric(key, value, step, at)

    def flush(self) -> None:
        """Write every buffered metric value now (they are durable when this returns).

        Raises:
            StorageUnavailable: the values could not be written (they stay buffered).
        """
        writer().flush([self._buffer])
        self._raise_writer_error()

    # -- params, tags -------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Record a param (stored as text); params are immutable once logged.

        Raises:
            InvalidInput: an empty key.
            Conflict: the param already has a different value, or the run has ended.

        Example:
            >>> run.log_param("C", 1.0)  # doctest: +SKIP
        """
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several params in one write. See :meth:`log_param`.

        Example:
            >>> run.log_params({"C": 1.0, "penalty": "l2"})  # doctest: +SKIP
        """
        self._check_open()
        self._repo.log_params(
            self.id, {check_key(k, "param"): as_text(v) for k, v in params.items()}
        )

    @property
    def params(self) -> dict[str, str]:
        """The params logged so far, as stored (one small read; metrics are not flushed).

        Example:
            >>> run.params  # doctest: +SKIP
            {'C': '1.0', 'penalty': 'l2'}
        """
        return self._repo.params(self.id)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (stored as text); tags can change, also after the run ended.

        Example:
            >>> run.set_tag("reviewed", "yes")  # doctest: +SKIP
        """
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags in one write. See :meth:`set_tag`."""
        self._repo.set_tags(self.id, {check_key(k, "tag"): as_text(v) for k, v in tags.items()})

    # -- artifacts and inputs -----------------------------------------------------------

    def log_artifact(self, path: str | os.PathLike[str],
                     name: str | None = None) -> list[RunArtifact]:
        """Store a file, or every file under a folder, as artifacts of the run.

        Bytes are stored once by their sha256; logging the same name again points it at
        the new content.

        Args:
            path: a file or a folder.
            name: the artifact path in the run (the file or folder name by default); a
                folder's files go under ``name/``.

        Returns:
            The artifacts recorded, by path.

        Raises:
            InvalidInput: the path does not exist, the name leaves the run's folder, or a
                symbolic link in the folder points outside it.
            Conflict: the run has ended.

        Example:
            >>> run.log_artifact("plots/", name="plots")  # doctest: +SKIP
        """
        self._check_open()
        src = Path(path)
        if not src.exists():
            raise InvalidInput(f"cannot log artifact {str(src)!r}: no such file or folder")
        base = artifact_path(name if name is not None else src.resolve().name)
        files = ([(src, base)] if src.is_file() else [
            (f, f"{base}/{f.relative_to(src).as_posix()}")
            for f in sorted(src.rglob("*")) if _inside(f, src) and f.is_file()
        ])
        logged = []
        for file, art_path in files:
            sha, size = self._store.put_blob_file(file)
            logged.append(RunArtifact(art_path, sha, size))
        self._repo.add_artifacts(self.id, logged)
        return logged

    def log_dict(self, obj: Any, name: str) -> RunArtifact:
        """Store a JSON-serialisable object as a JSON artifact.

        Raises:
            InvalidInput: the object cannot be written as JSON.

        Example:
            >>> run.log_dict({"threshold": 0.4}, "config.json")  # doctest: +SKIP
        """
        self._check_open()
        art_path = artifact_path(name)
        try:
            data = json.dumps(obj, indent=2, sort_keys=True, allow_nan=True).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"cannot write {name!r} as JSON: {exc}") from exc
        with tempfile.TemporaryDirectory(prefix="modelyard-") as tmp:
            file = Path(tmp, "artifact.json")
            file.write_bytes(data)
            sha, size = self._store.put_blob_file(file)
        artifact = RunArtifact(art_path, sha, size)
        self._repo.add_artifacts(self.id, [artifact])
        return artifact

    def log_input(self, dataset_version: Any, role: str = "train") -> RunInput:
        """Record that the run used a dataset version (lineage).

        Args:
            dataset_version: a ``DatasetVersion`` (from ``yard.datasets``) or its integer id.
            role: what it was used for: ``train``, ``test``, ``validation``, ``eval``, ...

        Returns:
            The lineage record.

        Raises:
            NotFound: no dataset version has that id.
            InvalidInput: the role is empty or longer than 32 characters.

        Example:
            >>> run.log_input(yard.datasets.get("fraud@3"), role="train")  # doctest: +SKIP
        """
        version_id = getattr(dataset_version, "id", dataset_version)
        if isinstance(version_id, bool) or not isinstance(version_id, int):
            raise InvalidInput(
                f"log_input takes a DatasetVersion or its integer id, not {dataset_version!r}"
            )
        if not isinstance(role, str) or not role or len(role) > 32:
            raise InvalidInput(f"role {role!r} must be a non-empty string of at most 32 "
                               "characters, e.g. 'train'")
        self._check_open()
        result: RunInput = self._repo.add_input(self.id, version_id, role)
        return result

    # -- nesting, ending ----------------------------------------------------------------

    def child(self, name: str | None = None, **kwargs: Any) -> ActiveRun:
        """Start a nested run under this one (a tuning trial, a fold, a step).

        It shares the experiment and captured environment. Keyword arguments go to
        :meth:`Runs.start` (``tags``, ``experiment``).

        Example:
            >>> with yard.run("tune") as parent:  # doctest: +SKIP
            ...     with parent.child("trial-0") as trial:
            ...         trial.log_metric("score", 0.8)
        """
        self._check_open()
        kwargs.setdefault("experiment", self.experiment)
        run: ActiveRun = self._start_child(name, parent_id=self.id,
                                           environment=self._environment, **kwargs)
        self._children.append(run)
        return run

    @property
    def status(self) -> str:
        """``running`` until the run ends, then how it ended."""
        return self._status or "running"

    @property
    def info(self) -> Run:
        """The stored run as it is now (buffered metrics are written first)."""
        if self._status is None:
            self.flush()
        return self._get_run(self.id)

    def end(self, status: str = "finished", failure: str = "") -> None:
        """End the run: write every buffered value, then record how it ended.

        Ending twice does nothing. Nested runs still open end first, with the same status.

        Args:
            status: ``finished``, ``failed`` or ``killed``.
            failure: what went wrong (for ``failed`` and ``killed``).

        Raises:
            InvalidInput: an unknown status.
            StorageUnavailable: buffered metric values could not be written; the run is
                then marked failed if the database allows it.
        """
        if status not in _STATUSES:
            raise InvalidInput(f"status {status!r} is not one of {', '.join(_STATUSES)}")
        with self._end_lock:
            if self._status is not None:
                return
            self._status = status
        for child in self._children:
            child.end(status, failure)
        w = writer()
        w.unregister(self._buffer)
        run_id, repo = self.id, self._repo
        if w.drain(self._buffer, lambda rows: repo.finish(
                run_id, rows, status=status, failure=failure[:MAX_FAILURE])):
            drop_open(self.id)
            return
        for attempt in range(1, _END_FLUSH_ATTEMPTS):
            time.sleep(0.2 * attempt)
            w.flush([self._buffer])
            if self._buffer.error is None:
                break
        error = self._buffer.error
        drop_open(self.id)
        if error is not None:
            lost = len(self._buffer.values)
            failure = (f"{lost} metric values could not be written: {error}\n{failure}").strip()
            status = "failed"
        try:
            self._repo.end(self.id, status=status, failure=failure[:MAX_FAILURE])
        except ModelyardError:
            if error is None:
                raise
        if error is not None:
            raise StorageUnavailable(
                f"run {self.id} ({self.name!r}) ended but {len(self._buffer.values)} metric "
                f"values could not be written: {error}"
            ) from error

    def _raise_writer_error(self) -> None:
        error = self._buffer.error
        if error is not None:
            raise StorageUnavailable(
                f"{len(self._buffer.values)} metric values of run {self.id} could not be "
                f"written yet: {error}"
            ) from error

    def _check_open(self) -> None:
        if self._status is not None:
            raise self._ended()

    def _ended(self) -> Conflict:
        return Conflict(
            f"run {self.id} ({self.name!r}) has ended ({self._status}); start a new run to "
            "log more"
        )

    def __enter__(self) -> ActiveRun:
        _stack().append(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        stack = _stack()
        if self in stack:
            stack.remove(self)
        if exc is None:
            self.end("finished")
            return
        status = "killed" if isinstance(exc, KeyboardInterrupt) else "failed"
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            status = "finished"
        self.end(status, describe_failure(exc) if status != "finished" else "")

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r}, status={self.status!r})"


def _inside(file: Path, folder: Path) -> bool:
    """``True`` when ``file`` (found under ``folder``) really lies inside it; a symbolic link
    that leads outside is refused, so logging a folder never copies other files."""
    if not file.is_symlink():
        return True
    target, root = file.resolve(), folder.resolve()
    if target != root and root not in target.parents:
        raise InvalidInput(
            f"cannot log {str(file)!r}: it is a symbolic link to {str(target)!r}, outside "
            f"the folder {str(folder)!r}; copy the file into the folder or log it by itself")
    return True
