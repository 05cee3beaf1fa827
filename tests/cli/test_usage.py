"""Usage errors through the real entry point: the usage line, one error, exit 2, no traceback.

These run ``python -m modelyard`` in a subprocess so that the exceptions of the typer that is
installed (typer 0.29 has its own, not click's) travel the real path to ``main()``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``modelyard ARGS`` as a user runs it, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args], capture_output=True, text=True, cwd=cwd,
        timeout=120, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )


@pytest.mark.parametrize(
    ("args", "usage", "message"),
    [
        (("runs", "list", "--bogus"), "Usage: modelyard runs list", "No such option: --bogus"),
        (("models", "show"), "Usage: modelyard models show", "Missing argument 'ref'"),
        (("runs", "list", "--limit", "many"), "Usage: modelyard runs list", "'--limit'"),
        (("nosuchcommand",), "Usage: modelyard ", "No such command 'nosuchcommand'"),
        (("runs", "list", "--status", "done"), "Usage: modelyard runs list", "finished"),
        (("keys", "create", "--role", "root"), "Usage: modelyard keys create", "admin"),
    ],
)
def test_a_usage_error_is_the_usage_line_one_error_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], usage: str, message: str
) -> None:
    proc = run_cli(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(usage), proc.stderr
    assert "--help' for help" in proc.stderr
    assert lines[-1].startswith("error: ") and message in lines[-1], proc.stderr
    assert len(lines) == 3, proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / ".modelyard").exists()  # refused before anything was opened


def test_no_arguments_prints_the_help_without_a_traceback(tmp_path: Path) -> None:
    proc = run_cli(tmp_path)
    assert proc.returncode in (0, 2)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Usage: modelyard" in proc.stdout and "runs" in proc.stdout
    assert "models" in proc.stdout and "--version" in proc.stdout


def test_version_is_the_installed_one(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"modelyard {modelyard.__version__}"


def test_shell_completion_is_offered_and_completes_commands(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--help")
    assert "--install-completion" in proc.stdout and "--show-completion" in proc.stdout
    script = run_cli(tmp_path, "--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "_modelyard_completion" in script.stdout and "_MODELYARD_COMPLETE" in script.stdout
    env = {**os.environ, "_MODELYARD_COMPLETE": "complete_bash",
           "COMP_WORDS": "modelyard mod", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "modelyard"], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["models"]


def test_help_and_usage_errors_import_nothing_heavy(tmp_path: Path) -> None:
    # What keeps `modelyard --help` and a usage error quick: the SDK, pandas, scikit-learn,
    # SQLAlchemy and FastAPI are imported inside the commands, on first use.
    probe = (
        "import sys\n"
        "from modelyard.cli import main\n"
        "for args in (['--help'], ['runs', 'list', '--bogus'], ['models', 'predict', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('pandas', 'numpy', 'sklearn', 'sqlalchemy', 'fastapi', 'modelyard.yard')\n"
        "print('loaded:', *sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "loaded:"


def test_the_role_choices_are_the_stores_roles() -> None:
    from modelyard.cli._keys import Role
    from modelyard.store import ROLES

    assert tuple(r.value for r in Role) == ROLES
