"""Environment capture and process identity."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

from modelyard.tracking import capture_environment
from modelyard.tracking._environment import git_state, process_alive, process_identity


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_environment_has_python_platform_and_packages(tmp_path: Path) -> None:
    env = capture_environment(tmp_path)
    assert env["python"] == platform.python_version()
    assert {"numpy", "pandas", "scikit-learn", "modelyard"} <= set(env["packages"])
    assert env["git_commit"] == "" and env["dirty"] is None


def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    try:
        _git(tmp_path, "init", "-q")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not available")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
         "--allow-empty", "-m", "init")
    (tmp_path / "f.py").write_text("x = 1\n")
    _git(tmp_path, "add", "f.py")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "f")
    clean = git_state(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    (tmp_path / "f.py").write_text("x = 2\n")
    assert git_state(tmp_path) == {"commit": clean["commit"], "dirty": True}
    env = capture_environment(tmp_path)
    assert env["git_commit"] == clean["commit"] and env["dirty"] is True


def test_process_identity_is_alive() -> None:
    host, pid, started = process_identity()
    assert host and pid == os.getpid()
    assert process_alive(pid, started)
    assert not process_alive(0, 0.0)
