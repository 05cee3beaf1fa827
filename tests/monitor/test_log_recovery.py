"""The prediction log survives a crash: a writer killed with SIGKILL loses only what it had
not flushed, and readers, the next writer and ``doctor`` recover the rest."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.monitor import LogSchema, PredictionLog, check_prediction_log, read_prediction_log

SCHEMA = LogSchema("fraud", 3, (("amount", "float"), ("count", "integer")), "integer", (0, 1))

_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from modelyard.monitor import LogSchema, PredictionLog
    schema = LogSchema("fraud", 3, (("amount", "float"), ("count", "integer")), "integer",
                       (0, 1))
    log = PredictionLog(sys.argv[1], flush_interval_s=0.05, rotate_s=3600)
    i = 0
    while True:
        log.append(schema, f"r{i}", np.array([[float(i), 1.0]]), np.array([i % 2]),
                   np.array([[0.5, 0.5]]))
        i += 1
        if i % 50 == 0:
            log.flush()
            print(i, flush=True)   # every row up to i is flushed
        time.sleep(0.0005)
""")


def _killed_writer(root: Path, rows: int) -> int:
    """Run a writer in a child process, SIGKILL it once ``rows`` rows are flushed; returns
    the rows it had reported flushed."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(root)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    flushed = 0
    deadline = time.monotonic() + 30
    while flushed < rows and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        flushed = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    assert flushed >= rows, "the writer did not get going"
    return flushed


def test_sigkill_loses_no_flushed_row_and_readers_recover_it(tmp_path: Path) -> None:
    flushed = _killed_writer(tmp_path, 400)
    folder = tmp_path / "fraud"
    assert list(folder.glob(".part-*.arrows")), "the crash left an open stream"
    table = read_prediction_log(tmp_path, "fraud")  # a reader recovers the dead writer's rows
    ids = set(table.column("request_id").to_pylist())
    assert {f"r{i}" for i in range(flushed)} <= ids
    assert table.num_rows == len(ids)
    assert not list(folder.glob(".part-*"))  # sealed into Parquet, nothing left over
    assert [pq.ParquetFile(p).metadata.num_rows for p in folder.glob("part-*.parquet")] == [
        table.num_rows]


def test_the_next_writer_recovers_and_a_live_stream_is_left_alone(tmp_path: Path) -> None:
    flushed = _killed_writer(tmp_path, 100)
    live = PredictionLog(tmp_path, flush_interval_s=0.02)
    live.append(SCHEMA, "new", np.array([[1.0, 2.0]]), np.array([0]), None)
    live.flush()
    deadline = time.monotonic() + 10
    while len(list((tmp_path / "fraud").glob("part-*.parquet"))) < 1:
        assert time.monotonic() < deadline, "the new writer did not recover the old part"
        time.sleep(0.02)
    report = check_prediction_log(tmp_path)  # beside a live writer: its stream stays open
    assert report.live == 1 and report.recovered_rows == 0
    assert len(list((tmp_path / "fraud").glob(".part-*.arrows"))) == 1
    live.close()
    ids = set(read_prediction_log(tmp_path, "fraud").column("request_id").to_pylist())
    assert {f"r{i}" for i in range(flushed)} | {"new"} <= ids


def test_a_stream_cut_inside_a_batch_reads_to_its_last_whole_batch(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_interval_s=0.02)
    for i in range(3):
        log.append(SCHEMA, f"r{i}", np.array([[1.0, 2.0]] * 10), np.array([0] * 10), None)
        log.flush()
    stream = next((tmp_path / "fraud").glob(".part-*.arrows"))
    data = stream.read_bytes()  # what a crash in the middle of the fourth write leaves
    log.close()
    copy = tmp_path / "copy" / "fraud"
    copy.mkdir(parents=True)
    (copy / stream.name).write_bytes(data[:-20])
    table = read_prediction_log(tmp_path / "copy", "fraud")
    assert table.column("request_id").to_pylist() == ["r0"] * 10 + ["r1"] * 10
    assert not list(copy.glob(".part-*"))


def test_unreadable_leftovers_are_removed_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "fraud"
    folder.mkdir()
    # a part of the format before streams: Parquet without its footer
    sink = pa.BufferOutputStream()
    pq.write_table(SCHEMA.arrow.empty_table(), sink)
    (folder / ".part-20250101T000000000000-1-000001.parquet.tmp").write_bytes(
        sink.getvalue().to_pybytes()[:-10])
    (folder / ".part-20250101T000000000000-1-000002.arrows").write_bytes(b"")  # nothing in it
    dry = check_prediction_log(tmp_path, repair=False)
    assert len(dry.removed) == 1 and len(list(folder.iterdir())) == 2
    report = check_prediction_log(tmp_path)
    assert len(report.removed) == 1 and report.recovered_rows == 0
    assert list(folder.iterdir()) == []
