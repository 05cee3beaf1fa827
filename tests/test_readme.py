"""The README's tour, followed literally: every block, in order, in a fresh folder.

Blocks whose first line is ``# file: NAME`` are written to that file; every ``bash`` block
is run, all in one shell (so a server started in the background by one block is used by the
next), with the project's virtualenv first on PATH. The tour fails when a command fails or
anything prints a traceback. The only change made to the text is the ports: the README's
8000 (the server) and 8080 (the dashboard) become free ports, so the test never collides
with a server already running.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _tour() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## A five-minute tour")
    return text[start:text.index("\n## ", start + 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(tour: str, folder: Path, port: int, ui_port: int) -> str:
    lines = ["set -euo pipefail",
             # servers the tour starts in the background end with the tour, whatever happens
             "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for lang, body in _FENCE.findall(tour):
        body = body.replace("8000", str(port)).replace("8080", str(ui_port))
        first = body.splitlines()[0] if body.strip() else ""
        if first.startswith("# file: "):
            (folder / first[len("# file: "):].strip()).write_text(body, encoding="utf-8")
        elif lang == "bash":
            lines.append(body)
    return "\n".join(lines)


def test_the_tour_blocks_are_all_found() -> None:
    tour = _tour()
    kinds = [lang for lang, _ in _FENCE.findall(tour)]
    assert kinds.count("bash") >= 8
    files = re.findall(r"^# file: (\S+)", tour, re.M)
    assert {"make_data.py", "spec.toml", "tour.py", "client.py", "modelyard.toml"} <= set(files)


@pytest.mark.slow
def test_the_readme_tour_runs_literally(tmp_path: Path) -> None:
    port, ui_port = _free_port(), _free_port()
    while ui_port == port:
        ui_port = _free_port()
    script = _script(_tour(), tmp_path, port, ui_port)
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["NO_COLOR"] = "1"
    # its own process group: on a timeout the tour and every server it started end with it
    tour = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        stdout, stderr = tour.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(tour.pid, signal.SIGKILL)
        stdout, stderr = tour.communicate()
        pytest.fail("the tour did not finish in 600 s:\n" + (stdout + stderr)[-6000:])
    done = subprocess.CompletedProcess(tour.args, tour.returncode, stdout, stderr)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "Traceback" not in output, output[-6000:]
    # what the tour says happens, happened
    assert "cancer@1" in done.stdout and "new_batch.csv refused" in done.stdout
    assert (tmp_path / "predictions.csv").is_file() and (tmp_path / "cancer.html").is_file()
    assert '"predictions"' in done.stdout  # curl's answer
    assert "retrain.started" in done.stdout or "retrain" in done.stdout
