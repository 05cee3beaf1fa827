"""Tuning studies kept in the metadata database, so a killed tuning job continues.

A study is named after what it searches: the data version, the spec's estimator, features,
split and search space, the metric and the seed (:func:`study_key`). The same training
started again after a crash, a SIGKILL or a lost machine finds its unfinished study and goes
on with it: finished trials are kept, trials that were running when it died are asked again
with the same parameters. A study that finished is closed; the next training with the same
key starts a fresh one (``<key>-2``, ``-3``...), so training twice still tunes twice.

Optuna's tables (``studies``, ``trials``, its own ``alembic_version``) would collide with
modelyard's, so they live beside them (:func:`study_storage`): in a schema of their own
(``<schema>_optuna``) of the same PostgreSQL database, or in ``<name>.optuna.db`` beside the
SQLite file.

While a job tunes, a daemon thread stamps the study every few seconds with its holder
(``host:pid``); a second job with the same key refuses while that stamp is fresh, and takes
over at once when the holder is a dead process on the same host.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import Conflict

__all__ = ["StudyHandle", "open_study", "study_key", "study_storage"]

_HOLDER = "modelyard.holder"
_FINISHED = "modelyard.finished_by"
_STALE_S = 30.0
_BEAT_S = 5.0


def study_storage(db_url: str) -> str | None:
    """The Optuna storage URL that sits beside the metadata database at ``db_url``.

    Args:
        db_url: the metadata database's SQLAlchemy URL (with its password, if any).

    Returns:
        ``sqlite:///<dir>/<name>.optuna.db`` for a SQLite file; the same PostgreSQL
        database with ``search_path`` set to ``<schema>_optuna``; ``None`` (tuning studies
        kept in memory only) for an in-memory SQLite database or another backend.

    Example:
        >>> study_storage("sqlite:////p/.modelyard/yard.db")
        'sqlite:////p/.modelyard/yard.optuna.db'
    """
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        path = Path(url.database)
        return url.set(database=str(path.with_name(f"{path.stem}.optuna.db"))).render_as_string(
            hide_password=False)
    if backend == "postgresql":
        options = str(url.query.get("options", ""))
        schema = "public"
        for part in options.split():
            if part.startswith("-csearch_path="):
                schema = part.split("=", 1)[1].split(",")[0]
        kept = [p for p in options.split() if not p.startswith("-csearch_path=")]
        kept.append(f"-csearch_path={schema}_optuna")
        return url.update_query_dict({"options": " ".join(kept)}).render_as_string(
            hide_password=False)
    return None


def study_key(model: str, parts: dict[str, Any]) -> str:
    """The name of the study that tunes ``model`` as ``parts`` say (a short hash of them).

    Example:
        >>> study_key("fraud", {"data": "tx@1"})[:12]
        'tune-fraud-'
    """
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode())
    return f"tune-{model}-{digest.hexdigest()[:16]}"


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(holder: str, stamped: float) -> bool:
    host, _, pid = holder.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return int(pid) != os.getpid() and time.time() - stamped < _STALE_S
    return time.time() - stamped < _STALE_S


class StudyHandle:
    """An open study: the Optuna study, what was resumed, and the holder's heartbeat.

    Attributes:
        study: the Optuna study.
        name: its name in the storage.
        resumed: finished trials it already had when this job opened it.
        requeued: trials that were running when the last job died, asked again.
    """

    def __init__(self, study: Any, name: str, resumed: int, requeued: int,
                 durable: bool, storage: Any = None) -> None:
        self.study = study
        self._storage = storage
        self.name = name
        self.resumed = resumed
        self.requeued = requeued
        self._durable = durable
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        if durable:
            self._stamp()
            self._beat = threading.Thread(target=self._run, name="modelyard-study-beat",
                                          daemon=True)
            self._beat.start()

    def _stamp(self) -> None:
        self.study.set_user_attr(_HOLDER, [_holder(), time.time()])

    def _run(self) -> None:
        while not self._stop.wait(_BEAT_S):
            try:
                self._stamp()
            except Exception:  # a busy database: the next beat retries
                continue

    def close(self, finished_by: str | None) -> None:
        """Stop the heartbeat; with ``finished_by`` (the run id), close the study for good."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
        if self._durable:
            if finished_by is not None:
                self.study.set_user_attr(_FINISHED, finished_by)
            self.study.set_user_attr(_HOLDER, ["", 0.0])
        if self._storage is not None:
            self._storage.engine.dispose()


def _prepare_schema(storage: str) -> None:
    """Create the PostgreSQL schema Optuna's tables go in (Optuna does not)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    if url.get_backend_name() != "postgresql":
        return
    schema = str(url.query.get("options", "")).split("-csearch_path=")[-1].split()[0]
    engine = create_engine(url.difference_update_query(["options"]))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()


def open_study(storage: str | None, key: str, *, sampler: Any) -> StudyHandle:
    """Resume the unfinished study named ``key`` (or ``key-N``), else start a fresh one.

    Args:
        storage: an Optuna storage URL (:func:`study_storage`); ``None`` keeps the study in
            memory, not resumable.
        key: the study's name (:func:`study_key`).
        sampler: the Optuna sampler.

    Returns:
        The open study; close it with :meth:`StudyHandle.close`.

    Raises:
        Conflict: another live process is tuning the same study now.
    """
    import optuna
    from optuna.trial import TrialState

    if storage is None:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        return StudyHandle(study, key, 0, 0, durable=False)
    _prepare_schema(storage)
    rdb = optuna.storages.RDBStorage(storage)
    names = optuna.get_all_study_names(storage=rdb)
    ours = sorted((n for n in names if n == key or (n.startswith(f"{key}-")
                                                    and n[len(key) + 1:].isdigit())),
                  key=lambda n: 1 if n == key else int(n[len(key) + 1:]))
    if ours:
        latest = optuna.load_study(study_name=ours[-1], storage=rdb, sampler=sampler)
        attrs = latest.user_attrs
        if _FINISHED not in attrs:
            holder, stamped = (attrs.get(_HOLDER) or ["", 0.0])
            if holder and _alive(str(holder), float(stamped)):
                raise Conflict(
                    f"tuning study {ours[-1]!r} is being run by {holder} (last seen "
                    f"{time.time() - float(stamped):.0f} s ago); wait for it to finish, or "
                    f"stop it: a stopped job's study is resumed {_STALE_S:.0f} s later")
            stale = latest.get_trials(deepcopy=False, states=(TrialState.RUNNING,
                                                              TrialState.WAITING))
            for trial in stale:
                if trial.state == TrialState.RUNNING:
                    rdb.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                    latest.enqueue_trial(trial.params, user_attrs={"requeued": trial.number})
            done = len(latest.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            return StudyHandle(latest, ours[-1], done, len(stale), durable=True, storage=rdb)
    name = key if not ours else f"{key}-{len(ours) + 1}"
    study = optuna.create_study(study_name=name, storage=rdb, direction="maximize",
                                sampler=sampler)
    return StudyHandle(study, name, 0, 0, durable=True, storage=rdb)
