"""A full disk (a 2 MB tmpfs) under the prediction log: the writer keeps running, drops and
counts what it cannot write, and every row it wrote is readable once there is room to seal
the last part (``modelyard doctor``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from _tmpfs import small_tmpfs
from modelyard.monitor import LogSchema, PredictionLog, check_prediction_log, read_prediction_log

SCHEMA = LogSchema("fraud", 1, tuple((f"f{i}", "float") for i in range(20)), "integer", None)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs; skipped where mounting is not permitted, except under CI."""
    with small_tmpfs(tmp_path / "disk", "2m") as folder:
        yield folder


def test_a_full_disk_drops_and_counts_and_keeps_earlier_rows(small_disk: Path) -> None:
    rng = np.random.default_rng(0)
    log = PredictionLog(small_disk, flush_interval_s=0.01, rotate_bytes=256 * 1024)
    written: list[str] = []
    for i in range(400):  # ~20 KB a request of random floats: well past 2 MB
        rid = f"r{i}"
        log.append(SCHEMA, rid, rng.random((100, 20)), np.zeros(100, dtype=np.int64))
        log.flush()
        written.append(rid)
    assert log.dropped_rows > 0, "the disk never filled"
    assert log.written_rows > 0
    log.close()
    full = check_prediction_log(small_disk)  # no room to seal the last part: it stays
    assert full.failed and "No space left" in full.failed[0][1]
    assert read_prediction_log(small_disk, "fraud").num_rows < log.written_rows
    # once there is room again, doctor's recovery seals it: every written row is readable
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    later = check_prediction_log(small_disk)
    assert later.failed == [] and later.recovered_rows > 0
    table = read_prediction_log(small_disk, "fraud")
    assert table.num_rows == log.written_rows
    assert len(set(table.column("request_id").to_pylist())) * 100 == table.num_rows
    assert not list((small_disk / "fraud").glob(".part-*"))
