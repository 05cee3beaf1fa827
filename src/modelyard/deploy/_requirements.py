"""The image's pinned requirements: modelyard's runtime dependencies, resolved to their full
closure for Linux and Python 3.11, each pinned with its hashes from the project's lock.

The closure is walked from the installed distributions' metadata (``Requires-Dist`` with
their markers), so it is exactly what ``import modelyard`` needs, and no test or tooling
package of the lock (pytest, mypy, moto) enters the image.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import InvalidInput, NotFound

__all__ = ["Pin", "find_lock", "read_lock", "runtime_pins", "write_requirements"]

TARGET = {"python_version": "3.11", "python_full_version": "3.11.9", "sys_platform": "linux",
          "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython",
          "platform_python_implementation": "CPython", "platform_machine": "x86_64"}
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    """One locked distribution: its name, version and the hashes of its files."""

    name: str
    version: str
    hashes: tuple[str, ...]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_lock(project_dir: str | os.PathLike[str]) -> Path:
    """The lock file to pin from: ``requirements/*.lock`` of the project folder, else the
    one beside the modelyard checkout this code runs from.

    Raises:
        NotFound: neither has one (pass ``--lock``).
    """
    here = Path(__file__).resolve()
    for root in (Path(project_dir), *here.parents[2:4]):
        for name in ("requirements/runtime.lock", "requirements/dev.lock"):
            if (root / name).is_file():
                return root / name
    raise NotFound(f"no requirements/dev.lock in {project_dir} or beside modelyard; pass "
                   "--lock with a hash-pinned lock file (pip-compile or uv pip compile "
                   "--generate-hashes)")


def read_lock(path: str | os.PathLike[str]) -> dict[str, Pin]:
    """The pins of a hash-pinned requirements file, by canonical name.

    Raises:
        InvalidInput: the file is missing or a pin has no hash.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"lock file {str(path)!r} cannot be read: {exc}") from exc
    pins: dict[str, Pin] = {}
    current: tuple[str, str] | None = None
    hashes: list[str] = []
    for line in [*text.splitlines(), "end==0"]:
        match = _LINE.match(line)
        if match or not line.startswith((" ", "\t")):
            if current is not None:
                if not hashes:
                    raise InvalidInput(f"{path}: {current[0]}=={current[1]} has no --hash; "
                                       "the image installs with --require-hashes")
                pins[_canonical(current[0])] = Pin(current[0], current[1], tuple(hashes))
            current, hashes = ((match.group(1), match.group(2)) if match else None), []
        hashes += _HASH.findall(line)
    return pins


def _requires(name: str) -> list[str]:
    try:
        return metadata.distribution(name).requires or []
    except metadata.PackageNotFoundError as exc:
        raise InvalidInput(f"{name} is not installed here, so its dependencies are unknown; "
                           "install modelyard with the extras you deploy, then retry") from exc


def runtime_pins(lock: dict[str, Pin], extras: Iterable[str] = ()) -> list[Pin]:
    """modelyard's dependencies (with ``extras``) and theirs, each pinned from ``lock``.

    Raises:
        InvalidInput: a dependency the lock does not pin, or an unknown extra.
    """
    from packaging.markers import Marker
    from packaging.requirements import Requirement

    wanted = set(extras)
    known = set(metadata.metadata("modelyard").get_all("Provides-Extra") or [])
    if wanted - known:
        raise InvalidInput(f"unknown extra {sorted(wanted - known)}; modelyard's extras: "
                           f"{', '.join(sorted(known))}")
    todo: list[tuple[str, frozenset[str]]] = [("modelyard", frozenset(wanted))]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while todo:
        name, with_extras = todo.pop()
        if (name, with_extras) in seen:
            continue
        seen.add((name, with_extras))
        for spec in _requires(name):
            req = Requirement(spec)
            marker: Marker | None = req.marker
            if marker is not None and not any(
                    marker.evaluate({**TARGET, "extra": extra})
                    for extra in (with_extras or {""})):
                continue
            dep = _canonical(req.name)
            if dep == "modelyard":
                todo.append((dep, frozenset(req.extras) | with_extras))
                continue
            names.add(dep)
            todo.append((dep, frozenset(req.extras)))
    missing = sorted(n for n in names if n not in lock)
    if missing:
        raise InvalidInput(f"the lock does not pin {', '.join(missing)}; refresh it "
                           "(scripts/lock.sh) or pass --lock with one that does")
    return sorted((lock[n] for n in names), key=lambda p: _canonical(p.name))


def write_requirements(pins: Iterable[Pin], path: Path, *, source: str) -> None:
    """Write ``pins`` as a requirements file for ``pip install --require-hashes``."""
    lines = [f"# modelyard's runtime dependencies, pinned with hashes from {source}.",
             "# Installed with: pip install --require-hashes --no-deps -r requirements.txt"]
    for pin in pins:
        lines.append(f"{pin.name}=={pin.version} \\")
        lines += [f"    --hash={h}" + (" \\" if i < len(pin.hashes) - 1 else "")
                  for i, h in enumerate(pin.hashes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
