"""Tracking under faults, with real processes on one SQLite file: two writers at once, and a
process killed with SIGKILL in the middle of logging."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import modelyard

pytestmark = pytest.mark.slow

WRITER = """
import sys, time
from pathlib import Path
import modelyard

root, tag, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
# Flush every 5 ms in batches of at most 100 rows: many small transactions, much contention.
yard = modelyard.open(root, metric_flush_interval_s=0.005, metric_flush_max_rows=100)
while not go.exists():
    time.sleep(0.005)
for r in range(2):
    with yard.run(f"{tag}-{r}", tags={"proc": tag}) as run:
        run.log_params({"proc": tag, "r": r})
        for i in range(2000):
            run.log_metric("loss", i / 2)
            if i % 250 == 0:
                run.set_tag("progress", i)
                run.log_param(f"checkpoint_{i}", i)
                time.sleep(0.001)
        print(run.id, flush=True)
yard.close()
"""

VICTIM = """
import sys, time
import modelyard

yard = modelyard.open(sys.argv[1], metric_flush_interval_s=0.01)
run = yard.run("victim")
run.log_params({"lr": 0.1})
for i in range(1000):
    run.log_metric("m", i)
run.flush()
print(run.id, flush=True)
i = 1000
while True:
    run.log_metric("m", i)
    i += 1
    if i % 100 == 0:
        time.sleep(0.001)
"""


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_two_processes_log_into_one_sqlite_store_at_once(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    modelyard.open(root).close()  # create the schema once, before the race
    script, go = _script(tmp_path, "writer.py", WRITER), tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(root), tag, str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b")]
    time.sleep(0.5)
    go.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err.lower(), err
    run_ids = [line for out, _ in outputs for line in out.split()]
    assert len(run_ids) == 4
    with modelyard.open(root) as yard:
        for run_id in run_ids:
            run = yard.runs.get(run_id)
            assert run.status == "finished", run.failure
            assert run.params["checkpoint_1750"] == "1750" and run.tags["progress"] == "1750"
            values = [m.value for m in yard.runs.metric_history(run_id, "loss")]
            assert values == [i / 2 for i in range(2000)]


def test_a_killed_process_leaves_a_sound_store_and_a_failed_run(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    script = _script(tmp_path, "victim.py", VICTIM)
    proc = subprocess.Popen([sys.executable, str(script), str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert len(run_id) == 32, proc.stderr.read() if proc.stderr else ""
    time.sleep(0.5)  # the writer is flushing every 10 ms by now
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    db = root / ".modelyard" / "yard.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with modelyard.open(root) as yard:
        assert yard.runs.reap() == [run_id]
        run = yard.runs.get(run_id)
        assert run.status == "failed"
        assert run.failure == f"process {proc.pid} on {run.host} died"
        assert run.params == {"lr": "0.1"}
        values = [m.value for m in yard.runs.metric_history(run_id, "m")]
        # Everything flushed before the kill is there, as an unbroken prefix.
        assert len(values) >= 1000
        assert values == [float(i) for i in range(len(values))]
