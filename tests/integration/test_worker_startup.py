"""``modelyard serve --workers 2`` whose worker dies before it is ever ready, three times in a
row, stops the whole service with one clear line and exit code 1 (no restart loop, no
traceback, the port free again)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from _serving import Server, make_project

pytestmark = pytest.mark.slow

# Loaded by every Python process that has this folder on its path; only a server worker
# (the supervisor tells it its slot in MODELYARD_SERVE_WORKER) records its start and dies,
# as a worker does whose model crashes the interpreter while loading.
_SITE = """
import json, os
info = os.environ.get("MODELYARD_SERVE_WORKER")
if info is not None:
    with open({starts!r}, "a") as fh:
        fh.write(f"{{json.loads(info)['slot']}} {{os.getpid()}}\\n")
    os._exit(3)
"""


def test_a_worker_dying_three_times_before_ready_stops_the_service(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    site = tmp_path / "site"
    site.mkdir()
    starts = tmp_path / "starts.txt"
    (site / "sitecustomize.py").write_text(_SITE.format(starts=str(starts)))
    server = Server(project, ["cancer@champion"], {"PYTHONPATH": str(site)}, "--workers", "2")
    try:
        code = server.proc.wait(120)
    except subprocess.TimeoutExpired:
        server.terminate()
        raise AssertionError("the server kept restarting its dying workers") from None
    _, err = server.proc.communicate()
    message = err.decode(errors="replace")
    assert code == 1, message[-2000:]
    assert "died 3 times before it was ready (last exit code 3)" in message, message[-2000:]
    assert "fix the cause, and start the server again" in message
    assert "Traceback" not in message
    slots = [int(line.split()[0]) for line in starts.read_text().splitlines()]
    # the slot that stopped the service started exactly 3 times; none more than that
    assert max(slots.count(0), slots.count(1)) == 3 and len(slots) <= 6, slots
    with socket.socket() as s:  # the listening socket is closed
        s.bind(("127.0.0.1", server.port))
