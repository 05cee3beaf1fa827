"""``modelyard doctor`` on a project with a crashed server's log, a corrupted artifact and an
abandoned upload: it recovers the log, removes the leftovers, and names what needs a person."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import modelyard
from _serving import make_project
from modelyard.cli import app
from modelyard.monitor import LogSchema, PredictionLog, read_prediction_log

SCHEMA = LogSchema("cancer", 1, (("a", "float"),), "integer", None)


def _crashed_log(root: Path) -> None:
    """A stream as a killed writer leaves it (written, never sealed, its lock gone)."""
    log = PredictionLog(root, flush_interval_s=0.01)
    log.append(SCHEMA, "before-crash", np.array([[1.0]]), np.array([0]))
    log.flush()
    part = log._parts["cancer"]
    os.link(part.stream, root / "cancer" / ("saved" + part.stream.name))
    log.close()
    (root / "cancer" / ("saved" + part.stream.name)).rename(part.stream)
    for p in (root / "cancer").glob("part-*.parquet"):
        p.unlink()  # as if the writer had died before sealing
    (root / "cancer" / ".part-20250101T000000000000-1-000009.parquet.tmp").write_bytes(b"PAR1")


def test_doctor_recovers_what_it_safely_can_and_names_the_rest(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    root = project / ".modelyard" / "predictions"
    _crashed_log(root)
    with modelyard.open(project) as yard:
        sha = yard.models.get("cancer/versions/2").blob_sha256
    blob = next((project / ".modelyard" / "artifacts" / "blobs").rglob(sha))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"x")  # one byte flipped on disk
    upload = project / ".modelyard" / "artifacts" / "tmp" / "abandoned.part"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(upload, (old, old))

    runner = CliRunner()
    check = runner.invoke(app, ["doctor", "--check-only", "--json", "--project", str(project)])
    assert check.exit_code == 1, check.output
    found = json.loads(check.stdout)
    assert found["corrupted"] == [sha] and found["log_recovered_rows"] == 1
    assert len(found["log_removed"]) == 1 and upload.exists()  # nothing changed yet

    fixed = runner.invoke(app, ["doctor", "--json", "--project", str(project)])
    assert fixed.exit_code == 1  # the corrupted artifact still needs a person
    done = json.loads(fixed.stdout)
    assert done["uploads_removed"] == 1 and not upload.exists()
    assert done["log_recovered_rows"] == 1 and not list((root / "cancer").glob(".part-*"))
    assert any("corrupted" in p for p in done["problems"])
    ids = read_prediction_log(root, "cancer").column("request_id").to_pylist()
    assert ids == ["before-crash"]
    assert blob.exists()  # reported, never deleted
