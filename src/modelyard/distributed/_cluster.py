"""The Ray cluster modelyard works on: one that is running (joined by address), or a local
one started for this process on 127.0.0.1 and stopped with it.

Ray is imported here, inside functions, and only when a command asks for the Ray executor:
a plain ``modelyard train`` never imports it, and no core part imports this part.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InvalidInput, ModelyardError

__all__ = ["ADDRESS_ENV", "ClusterUnavailable", "RayCluster"]

#: the environment variable naming a running cluster to join (``auto``, ``host:6379``,
#: ``ray://host:10001``); unset, a local cluster is started
ADDRESS_ENV = "MODELYARD_RAY_ADDRESS"


class ClusterUnavailable(ModelyardError):
    """The Ray cluster cannot be reached or started, or Ray is not installed."""

    http_status: ClassVar[int] = 503
    exit_code: ClassVar[int] = 8


def import_ray(missing: str | None = None) -> Any:
    """Ray, or a clear error saying how to install it.

    Args:
        missing: the message when Ray is not installed (the executor's by default).

    Raises:
        ClusterUnavailable: the ``ray`` extra is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise ClusterUnavailable(missing or (
            "the Ray executor needs Ray: pip install 'modelyard[ray]' (or use --executor "
            "local to run in this process)")) from exc
    return ray


class RayCluster:
    """A connection to a Ray cluster, made on first use.

    With an address (the argument, else ``MODELYARD_RAY_ADDRESS``) it joins that cluster;
    without one it starts a local cluster on 127.0.0.1 with ``num_cpus`` CPUs (all of this
    machine's by default), no dashboard, and its temporary files under ``temp_dir``. A
    cluster this object started is stopped by :meth:`close`; a joined one is left running.
    If this process is already connected (``ray.init`` was called), that connection is
    used and left alone.

    Args:
        address: the cluster to join; ``None`` reads ``MODELYARD_RAY_ADDRESS``.
        num_cpus: CPUs of a started local cluster.
        temp_dir: Ray's temporary folder for a started local cluster (short: Ray puts unix
            sockets in it).

    Example:
        >>> with RayCluster(num_cpus=2) as cluster:  # doctest: +SKIP
        ...     cluster.cpus()
        2
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 temp_dir: str | os.PathLike[str] | None = None) -> None:
        if num_cpus is not None and num_cpus < 1:
            raise InvalidInput(f"num_cpus must be at least 1, not {num_cpus}")
        self.address = address if address is not None else (os.environ.get(ADDRESS_ENV)
                                                             or None)
        self.num_cpus = num_cpus
        self.temp_dir = None if temp_dir is None else str(Path(temp_dir))
        self.started = False
        self._connected = False

    def connect(self) -> Any:
        """Join or start the cluster (once) and return the ``ray`` module.

        Raises:
            ClusterUnavailable: Ray is missing, or the cluster cannot be reached or started.
        """
        ray = import_ray()
        if self._connected or ray.is_initialized():
            self._connected = True
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting from here
        common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                                  "configure_logging": False}
        try:
            if self.address:
                ray.init(address=self.address, **common)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False,
                         _node_ip_address="127.0.0.1", _temp_dir=self.temp_dir, **common)
                self.started = True
        except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
            where = (f"the Ray cluster at {self.address!r} ({ADDRESS_ENV})" if self.address
                     else "a local Ray cluster")
            raise ClusterUnavailable(
                f"cannot reach {where}: {type(exc).__name__}: {exc}; check that it runs "
                f"(`ray status`), unset {ADDRESS_ENV} to start a local one, or use "
                "--executor local") from exc
        self._connected = True
        return ray

    def cpus(self) -> int:
        """The cluster's CPUs (at least 1)."""
        ray = self.connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Stop the local cluster if this object started it; leave a joined one running."""
        if self.started:
            import ray

            ray.shutdown()
            self.started = False
            self._connected = False

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayCluster(address={self.address!r}, started={self.started})"
