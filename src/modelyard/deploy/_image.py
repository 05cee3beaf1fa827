"""A container build context that serves one model version.

Layout of the folder (the image's ``/app``)::

    Dockerfile         python:3.11-slim, pinned installs, non-root, HEALTHCHECK, exec form
    requirements.txt   the runtime closure, pinned with hashes from the project's lock
    entrypoint.sh      seeds the writable project folder, then execs the server
    site/              modelyard itself (the package and its dist-info), on PYTHONPATH
    bundle/            yard.db + artifacts/: this version alone (see export_bundle)
    image.json         what the image serves: model, version, sha256, reference
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import InvalidInput
from ..store import ModelVersion
from ._bundle import export_bundle
from ._k8s import CONTAINER_HOME, CONTAINER_PORT, CONTAINER_UID
from ._render import render
from ._requirements import find_lock, read_lock, runtime_pins, write_requirements

__all__ = ["ImageContext", "write_image_context"]

DEFAULT_BASE = "python:3.11-slim"
_HEALTHCHECK = ("import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + "
                "os.environ.get('MODELYARD_SERVE_PORT', '8080') + '/health', timeout=4)")


@dataclass(frozen=True)
class ImageContext:
    """What :func:`write_image_context` wrote."""

    folder: Path
    tag: str
    command: list[str]
    requirements: int


def _copy_package(site: Path) -> None:
    """modelyard's package and a dist-info naming it, so ``importlib.metadata`` finds it."""
    package = Path(__file__).resolve().parents[1]
    shutil.copytree(package, site / "modelyard",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    dist = metadata.distribution("modelyard")
    info = site / f"modelyard-{dist.version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", "Name: modelyard", f"Version: {dist.version}"]
    lines += [f"Requires-Dist: {r}" for r in dist.requires or []]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "top_level.txt").write_text("modelyard\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nmodelyard = modelyard.cli:main\n", encoding="utf-8")
    (info / "INSTALLER").write_text("modelyard deploy image\n", encoding="utf-8")


def write_image_context(
    version: ModelVersion,
    ref: str,
    artifact: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    project_dir: str | os.PathLike[str] = ".",
    lock: str | os.PathLike[str] | None = None,
    extras: tuple[str, ...] = ("postgres", "s3"),
    base_image: str = DEFAULT_BASE,
    tag: str | None = None,
    source: str = "",
) -> ImageContext:
    """Write a build context whose image runs ``modelyard serve ref`` on ``version``.

    Args:
        version: the version ``ref`` resolves to now.
        ref: the reference the server answers for (``fraud@champion``, ``fraud/versions/3``).
        artifact: a verified local copy of the version's model file (its hash is checked
            again while bundling).
        out: a folder that does not exist yet or is empty.
        project_dir: where to look for ``requirements/dev.lock`` when ``lock`` is not given.
        lock: a hash-pinned lock file to take the pins from.
        extras: modelyard extras to install too (``postgres`` and ``s3`` let the image use a
            team database and bucket).
        base_image: the base image, by a fixed tag.
        tag: the image tag the Dockerfile suggests (``modelyard-<model>:<version>``).
        source: where the version came from (kept in the bundle's metadata).

    Returns:
        What was written.

    Raises:
        InvalidInput: ``out`` is not empty, a base image tagged ``latest`` or untagged, a
            dependency the lock does not pin.
        Corrupted: ``artifact`` is not the version's file.

    Example:
        >>> write_image_context(v, "fraud@champion", path, "build/")  # doctest: +SKIP
    """
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"{folder} is not empty; pick a new folder or remove it first")
    name, _, image_tag = base_image.rpartition(":")
    if not name or "/" in image_tag or image_tag in {"", "latest"}:
        raise InvalidInput(f"base image {base_image!r} must have a fixed tag (not latest), "
                           f"e.g. {DEFAULT_BASE}")
    lock_path = Path(lock) if lock else find_lock(project_dir)
    pins = runtime_pins(read_lock(lock_path), extras)
    alias = ref.split("@", 1)[1] if "@" in ref else None
    if alias is not None and (alias.isdigit() or alias == "latest"):
        alias = None
    folder.mkdir(parents=True, exist_ok=True)
    try:
        export_bundle(version, artifact, folder / "bundle", alias=alias, source=source)
        write_requirements(pins, folder / "requirements.txt", source=lock_path.name)
        _copy_package(folder / "site")
        command = ["python", "-m", "modelyard", "serve", ref]
        tag = tag or f"modelyard-{version.model.lower()}:{version.version}"
        context = {"ref": ref, "model": version.model, "version": version.version,
                   "sha256": version.blob_sha256, "tag": tag, "base_image": base_image,
                   "uid": CONTAINER_UID, "home": CONTAINER_HOME, "port": CONTAINER_PORT,
                   "command_json": json.dumps(command),
                   "healthcheck": json.dumps(["python", "-c", _HEALTHCHECK])}
        (folder / "Dockerfile").write_text(render("image/Dockerfile.j2", **context),
                                           encoding="utf-8")
        entrypoint = folder / "entrypoint.sh"
        entrypoint.write_text(render("image/entrypoint.sh.j2", **context), encoding="utf-8")
        entrypoint.chmod(0o755)
        (folder / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n", encoding="utf-8")
        (folder / "image.json").write_text(json.dumps({
            "ref": ref, "model": version.model, "version": version.version,
            "sha256": version.blob_sha256, "tag": tag, "base_image": base_image,
            "requirements": len(pins), "lock": str(lock_path), "extras": list(extras),
        }, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ImageContext(folder=folder, tag=tag, command=command, requirements=len(pins))
