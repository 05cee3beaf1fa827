"""Kubernetes manifests for serving one model version, and the loop beside it.

What is written (one object per file, so ``kubectl apply -f DIR`` takes them all): a
ConfigMap of ``MODELYARD_*`` settings (and the loop's policy as ``modelyard.toml``), the
server's Deployment, Service, HorizontalPodAutoscaler (``autoscaling/v2``) and
PodDisruptionBudget, and a one-replica Deployment running ``modelyard loop start``. Secrets
are referenced, never written: the database URL and the object-store keys come from a
Secret the operator creates (``README.md`` in the folder says how).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SETTINGS, Settings, read_config_file
from ..errors import InvalidInput
from ..store import ModelVersion
from ._render import dns_name, render

__all__ = ["CONTAINER_HOME", "CONTAINER_PORT", "CONTAINER_UID", "K8sOptions", "write_manifests"]

CONTAINER_PORT = 8080
CONTAINER_UID = 10001
CONTAINER_HOME = "/var/lib/modelyard"
# Environment variables that boto/s3fs read and that are not secret: passed on as settings.
_STORAGE_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION")
# (environment variable, key in the Secret): the secrets a pod may need, each optional.
_SECRET_ENV = (("MODELYARD_DB_URL", "db-url"), ("AWS_ACCESS_KEY_ID", "aws-access-key-id"),
               ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key"))
_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_FILES = ("configmap", "deployment", "service", "hpa", "pdb", "loop-deployment")


@dataclass(frozen=True)
class K8sOptions:
    """How the manifests size and place the service.

    Args:
        image: the image built from ``modelyard deploy image`` (``registry/name:tag``).
        replicas: the server's replicas at first (the autoscaler moves it).
        min_replicas: fewest replicas the autoscaler keeps.
        max_replicas: most replicas the autoscaler starts.
        namespace: the namespace of every object.
        cpu: CPU each server replica requests (``500m``, ``1``).
        memory: memory each server replica requests and may use (``512Mi``, ``2Gi``).
        loop_cpu: CPU the loop requests (it retrains models).
        loop_memory: memory the loop requests and may use.
        cpu_target: average CPU utilisation (percent of the request) the autoscaler aims at.
        grace_s: how long a stopping pod may take to finish in-flight requests.
        name: the base name of the objects; the model's name by default.

    Example:
        >>> K8sOptions(image="registry.local/fraud:3", replicas=2, max_replicas=8).replicas
        2
    """

    image: str
    replicas: int = 2
    min_replicas: int = 2
    max_replicas: int = 10
    namespace: str = "default"
    cpu: str = "500m"
    memory: str = "1Gi"
    loop_cpu: str = "1"
    loop_memory: str = "2Gi"
    cpu_target: int = 70
    grace_s: int = 30
    name: str | None = None

    def check(self) -> None:
        """Raise InvalidInput naming the first option that Kubernetes would refuse."""
        if not self.image or any(c.isspace() for c in self.image) or self.image.endswith(
                ":latest"):
            raise InvalidInput(f"--image {self.image!r} must name an image by a fixed tag "
                               "(registry/name:tag, not :latest), the one you pushed")
        if self.min_replicas < 1 or self.max_replicas < self.min_replicas:
            raise InvalidInput(
                f"--min-replicas {self.min_replicas} and --max-replicas {self.max_replicas}: "
                "need 1 <= min <= max")
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise InvalidInput(
                f"--replicas {self.replicas} must lie between --min-replicas "
                f"{self.min_replicas} and --max-replicas {self.max_replicas}")
        for flag, value, pattern, example in (
                ("--cpu", self.cpu, _CPU, "500m or 2"), ("--memory", self.memory, _MEMORY,
                                                         "512Mi or 2Gi"),
                ("--loop-cpu", self.loop_cpu, _CPU, "1"),
                ("--loop-memory", self.loop_memory, _MEMORY, "2Gi")):
            if not pattern.match(value):
                raise InvalidInput(f"{flag} {value!r} is not a Kubernetes quantity; use e.g. "
                                   f"{example}")
        if dns_name(self.namespace, what="--namespace") != self.namespace:
            raise InvalidInput(f"--namespace {self.namespace!r} is not a Kubernetes name: use "
                               "lower-case letters, digits and '-'")
        if not 1 <= self.cpu_target <= 100 or self.grace_s < 1:
            raise InvalidInput("cpu_target must be 1-100 (percent) and grace_s at least 1")


def _settings_env(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The settings that differ from their defaults, as environment variables, with the
    server listening on every address of the pod; local paths and secrets left out."""
    env: dict[str, str] = {}
    for setting in SETTINGS:
        value = getattr(settings, setting.name)
        if setting.name in {"db_url", "serve_host", "serve_port", "artifacts"}:
            continue
        if value != setting.default:
            env[setting.env_var] = str(value).lower() if isinstance(value, bool) else str(value)
    if "://" in settings.artifacts and not settings.artifacts.startswith("file://"):
        env["MODELYARD_ARTIFACTS"] = settings.artifacts
    env["MODELYARD_SERVE_HOST"] = "0.0.0.0"
    env["MODELYARD_SERVE_PORT"] = str(CONTAINER_PORT)
    for key in _STORAGE_ENV:
        if environ.get(key):
            env[key] = environ[key]
    return env


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise InvalidInput(f"modelyard.toml value {value!r} cannot be written back as TOML")


def _toml_key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else json.dumps(key)


def _toml_tables(path: list[str], table: Mapping[str, Any]) -> list[str]:
    lines = [f"[{'.'.join(_toml_key(p) for p in path)}]"]
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if k not in nested]
    for key, sub in nested.items():
        lines += ["", *_toml_tables([*path, key], sub)]
    return lines


def loop_policy_toml(settings: Settings, model: str) -> str:
    """The ``[loop.<model>]`` tables of the project's modelyard.toml, as TOML text (a
    comment when the project has no policy for the model)."""
    policy = read_config_file(settings.project_dir).get("loop", {}).get(model)
    if not isinstance(policy, dict):
        return (f"# no [loop.{model}] policy in the project's modelyard.toml: the loop has "
                "nothing to do until you add one\n")
    return "\n".join(_toml_tables(["loop", model], policy)) + "\n"


def write_manifests(
    version: ModelVersion,
    ref: str,
    out: str | os.PathLike[str],
    *,
    options: K8sOptions,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the manifests that run ``ref`` (resolved to ``version``) on Kubernetes.

    Args:
        version: the version the reference resolves to now (its number and hash label the
            objects).
        ref: the reference the servers answer for (``fraud@champion``).
        out: the folder to write to (created; files in it with the same names are replaced).
        options: image, sizes and namespace.
        settings: the project's settings; those that differ from their defaults go into the
            ConfigMap, and the loop policy of ``version.model`` from its modelyard.toml.
        environ: where ``AWS_ENDPOINT_URL`` and ``AWS_DEFAULT_REGION`` are read from
            (``os.environ``).

    Returns:
        The files written, the README last.

    Raises:
        InvalidInput: an option Kubernetes would refuse, or a model name that makes no
            Kubernetes name (pass ``options.name``).

    Example:
        >>> write_manifests(v, "fraud@champion", "k8s/",  # doctest: +SKIP
        ...                 options=K8sOptions(image="registry.local/fraud:3"),
        ...                 settings=yard.settings)
    """
    options.check()
    base = dns_name(options.name or version.model, what="model name", max_length=50)
    common = {"app.kubernetes.io/name": "modelyard", "app.kubernetes.io/instance": base,
              "app.kubernetes.io/managed-by": "modelyard"}
    server_selector = {**common, "app.kubernetes.io/component": "server"}
    loop_selector = {**common, "app.kubernetes.io/component": "loop"}
    model_labels = {"modelyard.io/model": dns_name(version.model, what="model name"),
                    "modelyard.io/version": str(version.version)}
    secret_name = f"{base}-secrets"
    context: dict[str, Any] = {
        "ref": ref, "version": version.version, "sha256": version.blob_sha256,
        "namespace": options.namespace, "image": options.image, "replicas": options.replicas,
        "min_replicas": options.min_replicas, "max_replicas": options.max_replicas,
        "cpu": options.cpu, "memory": options.memory, "loop_cpu": options.loop_cpu,
        "loop_memory": options.loop_memory, "cpu_target": options.cpu_target,
        "grace_s": options.grace_s, "port": CONTAINER_PORT, "uid": CONTAINER_UID,
        "home": CONTAINER_HOME, "project_size": "2Gi",
        "server_name": base, "loop_name": f"{base}-loop", "config_name": f"{base}-settings",
        "secret_name": secret_name,
        "labels": common, "server_selector": server_selector, "loop_selector": loop_selector,
        "server_labels": {**server_selector, **model_labels},
        "loop_labels": {**loop_selector, **model_labels},
        "settings": _settings_env(settings, os.environ if environ is None else environ),
        "loop_toml": loop_policy_toml(settings, version.model),
        "secret_env": [{"name": env, "valueFrom": {"secretKeyRef": {
            "name": secret_name, "key": key, "optional": True}}} for env, key in _SECRET_ENV],
        "serve_args": ["python", "-m", "modelyard", "serve", ref],
        "loop_args": ["python", "-m", "modelyard", "loop", "start"],
    }
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in _FILES:
        path = folder / f"{name}.yaml"
        path.write_text(render(f"k8s/{name}.yaml.j2", **context), encoding="utf-8")
        written.append(path)
    readme = folder / "README.md"
    readme.write_text(render("k8s/README.md.j2", **context), encoding="utf-8")
    written.append(readme)
    return written
