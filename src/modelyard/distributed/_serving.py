"""``modelyard serve --backend ray --replicas N``: the prediction service as a Ray Serve
application, N replicas behind Ray Serve's HTTP proxy, seen as one service.

Each replica builds the same app as ``modelyard serve`` (``modelyard.serve``: same routes,
validation, batching, prediction log, hot swap, shadow and canary) and takes its slot,
its Ray Serve rank, in one shared folder made by this command, exactly as the workers of
``serve --workers N`` do: ``/metrics`` sums every replica (Prometheus multiprocess files;
``PROMETHEUS_MULTIPROC_DIR`` reaches the replica through its ``runtime_env``), and rollout
statistics, feedback scoring and live drift merge through the folder's SQLite file. That
folder and SQLite's WAL need one host, so the replicas are placed on the node this command
runs on; Ray Serve restarts a replica that dies, and the replacement takes its slot.

The command is the driver: it joins the cluster (``MODELYARD_RAY_ADDRESS`` /
``ray_address``) or starts a local one, starts Serve with its proxy on the requested host
and port, and blocks until SIGTERM or Ctrl-C; then it shuts Serve down (every replica
drains its requests and flushes its prediction log) and stops the cluster if it started
it. Ray is imported inside functions only.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import InvalidInput, ModelyardError
from ._cluster import ClusterUnavailable, RayCluster, import_ray

__all__ = ["ReplicaFailed", "serve_replicas"]

_LOG = logging.getLogger("modelyard.serve")
#: the Ray Serve application and deployment name
APP_NAME = "modelyard"
#: requests a replica takes at once (Ray Serve's default, 5, would starve the batcher)
MAX_ONGOING = 1024
_SERVE_CONTROLLER = ("SERVE_CONTROLLER_ACTOR", "serve")  # Ray Serve's actor name, namespace
_HINT = "pip install 'modelyard[ray]' (or serve with --backend local, the default)"


class ReplicaFailed(ModelyardError):
    """The Ray Serve replicas could not be started (exit code 1)."""

    http_status = 500
    exit_code = 1


class _Replica:
    """What Ray Serve runs in each replica: opens the yard, builds the app in its slot.

    Wrapped by ``serve.ingress()`` (late-bound: ``__serve_build_asgi_app__`` is called in
    the replica, after the constructor, so the app is never pickled).
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.yard: Any = None

    def __serve_build_asgi_app__(self) -> Any:
        from ray import serve

        from ..serve import create_replica_app
        from ..yard import open as open_yard

        spec = self.spec
        logging.getLogger("modelyard").setLevel(spec["log_level"].upper())
        rank = serve.get_replica_context().rank
        slot = getattr(rank, "rank", rank)
        if not isinstance(slot, int):
            raise RuntimeError(f"Ray Serve gave this replica no rank ({rank!r})")
        self.yard = open_yard(spec["project"], **spec["overrides"])
        return _OneRequestId(create_replica_app(
            self.yard, spec["refs"], shared=spec["shared"], replicas=spec["replicas"],
            slot=slot, started=spec["started"], log_root=spec["log_root"]))

    def __del__(self) -> None:
        _LOG.info("replica (pid %d) stopped", os.getpid())
        if self.yard is not None:
            self.yard.close()
            self.yard = None


class _OneRequestId:
    """The app, less the ``X-Request-ID`` it echoes when Ray Serve's proxy adds the same
    one to every answer (a client would otherwise read the header twice)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)

        async def send_once(message: Any) -> None:
            if message["type"] == "http.response.start" and given is not None:
                message["headers"] = [(k, v) for k, v in message.get("headers", ())
                                      if not (k.lower() == b"x-request-id" and v == given)]
            await send(message)

        await self.app(scope, receive, send_once)


def serve_replicas(
    refs: list[str],
    *,
    settings: Settings,
    replicas: int,
    replica_cpus: float = 1.0,
    overrides: dict[str, Any] | None = None,
    log_root: str | Path | None = None,
    log_level: str = "info",
    cluster: RayCluster | None = None,
) -> None:
    """Serve ``refs`` with ``replicas`` Ray Serve replicas until SIGTERM or Ctrl-C; blocks.

    Args:
        refs: the references to serve (``fraud@champion``).
        settings: the settings in force (``serve_host``, ``serve_port``, ``ray_address``).
        replicas: how many replicas (each a process with the models loaded).
        replica_cpus: CPUs Ray reserves for each replica.
        overrides: the explicit settings (flags) each replica opens the project with.
        log_root: where the prediction log goes (``<state_dir>/predictions``).
        log_level: the log level of this command and of modelyard in the replicas.
        cluster: the cluster; by default the ``ray_address`` one, or a local one started
            here (and stopped at the end).

    Raises:
        ClusterUnavailable: Ray is not installed, the cluster cannot be reached, or Ray
            Serve already runs on it.
        InvalidInput: a bad replica count, CPU count or port, or the port is taken.
        NotFound: a reference that names nothing (checked before anything starts).
        ReplicaFailed: the replicas could not start (the reason is in the message).

    Example:
        >>> serve_replicas(["fraud@champion"], settings=load_settings(),
        ...                replicas=2)  # doctest: +SKIP
    """
    import_ray_for_serving()
    host, port = settings.serve_host, settings.serve_port
    if replicas < 1:
        raise InvalidInput(f"replicas must be at least 1, not {replicas}")
    if replica_cpus < 0:
        raise InvalidInput(f"replica CPUs must be 0 or more, not {replica_cpus}")
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port {port} is not a TCP port Ray Serve can listen on (1-65535)")
    _check_free(host, port)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    from ..yard import Yard

    with Yard(settings) as yard:  # a typo fails before Ray starts; the store is migrated
        for ref in refs:
            yard.models.get(ref)
    cluster = cluster or RayCluster(settings.ray_address or None)
    if (cluster.address or "").startswith("ray://"):
        raise ClusterUnavailable(
            f"serving replicas cannot run through a Ray client address ({cluster.address}): "
            "the replicas share a folder on the machine this command runs on; run it on a "
            "node of the cluster with MODELYARD_RAY_ADDRESS=auto or host:6379")
    folder = Path(tempfile.mkdtemp(prefix="modelyard-serve-"))
    try:
        ray = cluster.connect()
        _serve(ray, refs, folder, settings, replicas, replica_cpus, overrides, log_root,
               log_level)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        cluster.close()


def import_ray_for_serving() -> Any:
    """Ray Serve, or a clear error naming the extra to install.

    Raises:
        ClusterUnavailable: the ``ray`` extra (Ray Serve) is not installed.
    """
    import_ray(f"serving on Ray needs Ray Serve: {_HINT}")
    try:
        from ray import serve
    except ImportError as exc:
        raise ClusterUnavailable(f"serving on Ray needs Ray Serve: {_HINT}") from exc
    return serve


def _serve(ray: Any, refs: list[str], folder: Path, settings: Settings, replicas: int,
           replica_cpus: float, overrides: dict[str, Any] | None,
           log_root: str | Path | None, log_level: str) -> None:
    from ray import serve

    from ..serve import create_shared_folder, replica_environment

    try:
        ray.get_actor(_SERVE_CONTROLLER[0], namespace=_SERVE_CONTROLLER[1])
    except ValueError:
        pass
    else:
        raise ClusterUnavailable(
            "Ray Serve already runs on this cluster (another `modelyard serve --backend "
            "ray`?); stop it first (`serve shutdown` on the cluster) or use another cluster")
    started = time.time()
    create_shared_folder(folder, replicas)
    if log_root is not None and "://" not in str(log_root):
        log_root = Path(log_root).resolve()  # the replicas do not run in this folder
    spec = {"project": str(Path(settings.project_dir).resolve()), "refs": refs,
            "log_level": log_level,
            "overrides": {k: v for k, v in (overrides or {}).items() if v is not None},
            "log_root": None if log_root is None else str(log_root),
            "shared": str(folder), "replicas": replicas, "started": started}
    # The replicas do not inherit this process's environment: pass on the settings in it.
    env = {k: v for k, v in os.environ.items() if k.startswith(("MODELYARD_", "RAY_SERVE_"))}
    env.update(replica_environment(folder))
    node = _this_node(ray)
    deployment = serve.deployment(
        name=APP_NAME, num_replicas=replicas, max_ongoing_requests=MAX_ONGOING,
        graceful_shutdown_timeout_s=30.0,
        ray_actor_options={"num_cpus": replica_cpus, "runtime_env": {"env_vars": env},
                           "resources": {f"node:{node}": 0.001}},
    )(serve.ingress()(_Replica))
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        _LOG.info("received %s; stopping %d replicas", signal.Signals(signum).name, replicas)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        serve.start(http_options={"host": settings.serve_host, "port": settings.serve_port})
        _LOG.info("starting %d Ray Serve replicas on node %s", replicas, node)
        try:
            serve.run(deployment.bind(spec), name=APP_NAME, route_prefix="/")
        except RuntimeError as exc:
            raise ReplicaFailed(
                f"the Ray Serve replicas did not start: {exc}; fix the cause and start the "
                "server again") from exc
        _LOG.info("serving on http://%s:%d with %d Ray Serve replicas (ready after %.1f s)",
                  settings.serve_host, settings.serve_port, replicas, time.time() - started)
        while not stop.wait(0.2):
            pass
    finally:
        try:
            _LOG.info("stopping the replicas (each drains its requests, flushes its log)")
            serve.delete(APP_NAME)  # waits for every replica's end; shutdown gives up at 30 s
            serve.shutdown()  # type: ignore[no-untyped-call]
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _this_node(ray: Any) -> str:
    """The address of the node this process runs on (Ray's ``node:<ip>`` resource)."""
    me = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node.get("NodeID") == me and node.get("Alive"):
            return str(node["NodeManagerAddress"])
    raise ClusterUnavailable("this process is not on a node of the Ray cluster; run "
                             "`modelyard serve --backend ray` on one of its machines")


def _check_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}; stop what "
                               "listens there or choose another --port / --host") from exc
