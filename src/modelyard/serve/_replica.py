"""One replica of the prediction service run by something other than our supervisor (Ray
Serve: ``modelyard.distributed``), joined to the others through a shared folder.

A replica is a worker without a parent to watch it: it builds the same app as a single
server, takes its slot in the folder (``_shared``) and from then on behaves as a worker of
``serve --workers N`` does (``_worker``): its metrics go to the folder's Prometheus
multiprocess files, its rollout counters, remembered answers and live sketches to the
shared database, and ``/ready`` waits for every slot. Who runs the replicas keeps them
alive (restarts one that dies); a replica that takes the slot of a dead one drops that
one's live gauges, and its counters stay, as with workers.

The process must have ``PROMETHEUS_MULTIPROC_DIR`` set to the folder's ``metrics/`` before
``prometheus_client`` is first imported (:func:`replica_environment`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InvalidInput
from ..yard import Yard
from ._app import create_app
from ._asgi import ServeApp
from ._shared import SharedState
from ._worker import Worker

__all__ = ["create_replica_app", "create_shared_folder", "replica_environment"]

_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def create_shared_folder(root: str | os.PathLike[str], replicas: int) -> Path:
    """Make the folder that ``replicas`` replicas share (metrics, readiness, shared.db).

    Args:
        root: an empty folder, made for the service's life (removed after it).
        replicas: how many replica slots.

    Returns:
        The folder.

    Raises:
        InvalidInput: fewer than one replica.

    Example:
        >>> create_shared_folder(tempfile.mkdtemp(), 2)  # doctest: +SKIP
    """
    if replicas < 1:
        raise InvalidInput(f"replicas must be at least 1, not {replicas}")
    return SharedState.create(Path(root), replicas).root


def replica_environment(root: str | os.PathLike[str]) -> dict[str, str]:
    """The environment variables a replica process needs before it imports anything
    (``PROMETHEUS_MULTIPROC_DIR``, so that ``/metrics`` sums every replica)."""
    return {_METRICS_ENV: str(SharedState(Path(root), 1).metrics_dir)}


def create_replica_app(yard: Yard, refs: list[str], *, shared: str | os.PathLike[str],
                       replicas: int, slot: int, started: float,
                       log_root: str | Path | None = None) -> ServeApp:
    """The prediction service app of replica ``slot`` of ``replicas``.

    Same routes and behaviour as :func:`create_app`; in addition ``/metrics``, rollout
    ``/stats``, feedback scoring and the live drift view merge over every replica through
    ``shared``, and ``/ready`` answers 200 once every replica has loaded its models.

    Args:
        yard: the yard whose registry holds the models.
        refs: the references to serve.
        shared: the folder made by :func:`create_shared_folder`.
        replicas: how many replicas share it.
        slot: this replica's place, 0 to ``replicas - 1`` (unique among live replicas).
        started: when the service started, epoch seconds (``modelyard_started`` in
            ``/metrics``).
        log_root: where the prediction log goes (``<state_dir>/predictions``).

    Returns:
        The app; its lifespan loads the models and marks the replica ready.

    Raises:
        InvalidInput: a slot outside the range, or this process's
            ``PROMETHEUS_MULTIPROC_DIR`` is not the folder's.
        NotFound: a reference that names nothing.

    Example:
        >>> app = create_replica_app(yard, ["fraud@champion"], shared=folder, replicas=2,
        ...                          slot=0, started=time.time())  # doctest: +SKIP
    """
    if not 0 <= slot < replicas:
        raise InvalidInput(f"replica slot {slot} is outside 0-{replicas - 1}")
    state = SharedState(Path(shared), replicas)
    wanted = replica_environment(shared)[_METRICS_ENV]
    if os.environ.get(_METRICS_ENV) != wanted:
        raise InvalidInput(f"a replica needs {_METRICS_ENV}={wanted} in its environment before "
                           f"it starts (it has {os.environ.get(_METRICS_ENV)!r})")
    app = create_app(yard, refs, log_root=log_root)
    pid = os.getpid()
    before = state.ready_pid(slot)
    if before is not None and before != pid and not _alive(before):
        state.forget(slot, before)  # a replacement: the dead one's live gauges go
    Worker(app.state.modelyard, state, slot, None, started).install(app)
    return app


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
