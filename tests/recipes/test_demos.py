"""Each demo runs from the command line exactly as the docs show it, with the CLI's defaults
(8 Optuna trials for the tuned models), through the real ``modelyard`` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard

# Slices small enough for the suite; everything else is the CLI's default.
DEMOS = {"fraud": 1500, "sentiment": 600, "images": 300, "movies": 5000}


def _demo(*args: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "modelyard", "demo", *args, "--dir",
                           str(folder)], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_each_recipe_demo_runs_from_the_cli_with_its_defaults(name: str,
                                                              tmp_path: Path) -> None:
    done = _demo(name, "--rows", str(DEMOS[name]), "--no-loop", folder=tmp_path / name)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    with modelyard.open(tmp_path / name) as yard:
        champions = [m for m in yard.models.list() if "champion" in m.aliases]
        assert len(champions) == 1 and yard.models.get(
            f"{champions[0].name}@champion").run_id is not None
        tuned = [r for r in yard.runs.list(limit=100) if r.parent_id is not None]
        if name == "fraud":  # the tuned recipe: the CLI's default 8 trials, each a child run
            assert len(tuned) == 8


@pytest.mark.slow
def test_the_headline_demo_ends_with_a_promotion_and_no_failed_request(tmp_path: Path) -> None:
    done = _demo(folder=tmp_path / "yard-demo")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    assert "failed requests: 0" in done.stdout, done.stdout[-4000:]
    with modelyard.open(tmp_path / "yard-demo") as yard:
        kinds = [e.kind for e in yard.loop.history("cancer")]
        assert kinds[-1] == "promoted", kinds
        assert yard.models.get("cancer@champion").version == 3
