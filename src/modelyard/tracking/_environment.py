"""What a run records about where it ran: Python, platform, packages, git, and the process.

The process identity (host, pid, the pid's start time) lets :meth:`Runs.reap` tell a live run
from one whose process died, even when the operating system has since given the pid to
another process.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "KEY_PACKAGES",
    "capture_environment",
    "git_state",
    "pid_start_time",
    "process_alive",
    "process_identity",
]

#: Packages whose versions every run records when they are installed.
KEY_PACKAGES = (
    "modelyard", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "sqlalchemy",
    "optuna", "skops", "lightgbm", "xgboost", "torch", "onnx", "onnxruntime", "ray",
)
_GIT_TIMEOUT_S = 2.0


@functools.cache
def _packages() -> dict[str, str]:
    found = {}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True,
            timeout=_GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The git commit of a folder and whether its tracked files have uncommitted changes.

    Args:
        cwd: the folder (the current directory by default).

    Returns:
        ``{"commit": "<40 hex>", "dirty": bool}``, or ``{}`` outside a git repository or
        when git is missing or slow.

    Example:
        >>> git_state("/")  # doctest: +SKIP
        {}
    """
    folder = Path(cwd or os.getcwd())
    commit = _git(["rev-parse", "HEAD"], folder)
    if not commit:
        return {}
    status = _git(["status", "--porcelain", "--untracked-files=no"], folder)
    return {"commit": commit, "dirty": bool(status)}


def capture_environment(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Python version, platform, key package versions and git state, as stored on a run.

    Args:
        cwd: the folder whose git state is recorded (the current directory by default).

    Returns:
        A JSON-ready dict with ``python``, ``implementation``, ``platform``, ``packages``,
        ``git_commit`` (``""`` outside git) and ``dirty`` (``None`` outside git).

    Example:
        >>> capture_environment()["python"]  # doctest: +SKIP
        '3.11.7'
    """
    git = git_state(cwd)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": dict(_packages()),
        "git_commit": git.get("commit", ""),
        "dirty": git.get("dirty"),
    }


@functools.cache
def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def pid_start_time(pid: int) -> float:
    """When a process started, in seconds since the epoch, from ``/proc``; 0.0 if unknown.

    Example:
        >>> pid_start_time(os.getpid()) > 0  # doctest: +SKIP
        True
    """
    fields, boot = _proc_stat(pid), _boot_time()
    if fields is None or boot is None or len(fields) < 20:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    # Field 22 of stat (index 19 after the command name) is the start time in clock ticks.
    return round(boot + int(fields[19]) / ticks, 2)


def process_alive(pid: int, started_at: float) -> bool:
    """Whether process ``pid`` on this host is alive and is the one that started then.

    A pid that now belongs to a process started at another time (recycled), or a zombie,
    counts as dead. Where ``/proc`` is missing only the pid's existence is checked.

    Args:
        pid: the process id.
        started_at: its start time as :func:`pid_start_time` gave it (0.0 when unknown).
    """
    if pid <= 0:
        return False
    fields = _proc_stat(pid)
    if fields is not None:
        if fields[0] in {"Z", "X", "x"}:
            return False
        now_started = pid_start_time(pid)
        return not (started_at and now_started and abs(now_started - started_at) > 1.0)
    if Path("/proc/self/stat").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_identity() -> tuple[str, int, float]:
    """This process as a run records it: (host name, pid, pid start time)."""
    pid = os.getpid()
    return socket.gethostname(), pid, pid_start_time(pid)
