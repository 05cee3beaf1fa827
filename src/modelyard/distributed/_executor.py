"""Training's work on Ray: tuning trials as Ray tasks, and whole retrainings for the loop.

:class:`RayExecutor` is the :class:`modelyard.train.Executor` that training's own tuner
hands its trials to: it keeps as many in flight as the cluster has CPUs (one trial per CPU),
and Ray retries a trial whose worker died (``max_retries``), so a killed worker costs its
trial's time, not the trial. The tuner, the child runs, the refit and the registration stay
in the calling process, exactly as in-process tuning does them.

:class:`RayTrainer` is the loop's :class:`modelyard.loop.RemoteTrainer`: it runs a whole
training on a worker, which opens the same store (so the cluster's workers must reach the
metadata database and the artifact store: the local cluster does; a remote one needs
PostgreSQL and object storage).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from ..config import Settings
from ..errors import InvalidInput
from ..train import EXECUTORS, Executor, InProcessExecutor, study_storage
from ._cluster import RayCluster, import_ray

__all__ = ["RayExecutor", "RayTrainer", "open_executor"]


@contextmanager
def open_executor(name: str, *, address: str | None = None,
                  num_cpus: int | None = None) -> Iterator[Executor]:
    """The executor called ``name`` for the length of a ``with`` block: ``local`` (in this
    process) or ``ray`` (a cluster joined or started here, and stopped here if started).

    Raises:
        InvalidInput: an unknown name.
        ClusterUnavailable: Ray is missing, or the cluster cannot be reached or started.

    Example:
        >>> with open_executor("local") as ex:
        ...     ex.name
        'local'
    """
    if name not in EXECUTORS:
        raise InvalidInput(f"executor must be one of {', '.join(EXECUTORS)}; got {name!r}")
    if name == "local":
        yield InProcessExecutor()
        return
    import_ray()  # fail before any work when Ray is missing; the cluster starts on first use
    with RayCluster(address, num_cpus=num_cpus) as cluster:
        yield RayExecutor(cluster)


class RayExecutor:
    """Run tuning trials as Ray tasks, ``slots`` at a time.

    Args:
        cluster: the cluster (a local one is started on first use when omitted; see
            :class:`RayCluster` for ``MODELYARD_RAY_ADDRESS``).
        cpus_per_trial: CPUs each trial reserves.
        max_retries: how often Ray reruns a trial whose worker process died.

    Example:
        >>> from modelyard.train import train
        >>> with RayCluster() as cluster:  # doctest: +SKIP
        ...     train(yard, "spec.toml", tune_trials=16, executor=RayExecutor(cluster))
    """

    name = "ray"

    def __init__(self, cluster: RayCluster | None = None, *, cpus_per_trial: float = 1.0,
                 max_retries: int = 3) -> None:
        self.cluster = cluster or RayCluster()
        self.cpus_per_trial = cpus_per_trial
        self.max_retries = max_retries
        self._remote: dict[Callable[..., Any], Any] = {}

    @property
    def slots(self) -> int:
        """Trials in flight: the cluster's CPUs over ``cpus_per_trial`` (at least 1)."""
        return max(1, int(self.cluster.cpus() // self.cpus_per_trial))

    def share(self, value: Any) -> Any:
        """Put ``value`` in Ray's object store once; tasks receive the value."""
        return self.cluster.connect().put(value)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` as a Ray task; its future settles when the task ends."""
        self.cluster.connect()
        remote = self._remote.get(fn)
        if remote is None:
            import ray

            remote = self._remote[fn] = ray.remote(fn)
        ref = remote.options(num_cpus=self.cpus_per_trial, max_retries=self.max_retries,
                             retry_exceptions=False).remote(*args)
        future: Future[Any] = ref.future()
        return future

    def __repr__(self) -> str:
        return f"RayExecutor({self.cluster!r})"


def _train_on_worker(settings: Settings, spec: dict[str, Any]) -> str:
    """A whole training on a Ray worker, into the store ``settings`` name; the registered
    version's reference. Module-level, so that Ray pickles it by reference."""
    from ..train import train
    from ..yard import Yard

    with Yard(settings) as yard:
        url = yard.store.db.engine.url.render_as_string(hide_password=False)
        return train(yard, spec, aliases=(), study_storage=study_storage(url)).ref


class RayTrainer:
    """Run whole trainings on a Ray worker (the loop's ``executor = "ray"`` retraining).

    Args:
        settings: the settings whose store the worker trains into.
        cluster: the cluster (a local one is started on first use when omitted).
        num_cpus: CPUs the training task reserves.

    Example:
        >>> loop = Loop(yard, trainers={"ray": RayTrainer(yard.settings)})  # doctest: +SKIP
    """

    name = "ray"

    def __init__(self, settings: Settings, cluster: RayCluster | None = None, *,
                 num_cpus: float = 1.0) -> None:
        self.settings = settings
        self.cluster = cluster or RayCluster()
        self.num_cpus = num_cpus

    def submit_training(self, spec: dict[str, Any]) -> Future[str]:
        """Start training ``spec`` on a worker; the future holds the version's reference.

        Not retried by Ray: a retraining that died is started again by the loop's next
        cycle, which first looks for the version it may have registered.
        """
        ray = self.cluster.connect()
        task = ray.remote(_train_on_worker).options(num_cpus=self.num_cpus, max_retries=0)
        future: Future[str] = task.remote(self.settings, spec).future()
        return future

    def __repr__(self) -> str:
        return f"RayTrainer({self.cluster!r})"
