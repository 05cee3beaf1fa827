"""The prediction log on a real S3 API (moto in server mode on 127.0.0.1): each closed part is
one PUT to a key of its own, the open part stays on local disk until it is closed, readers
list closed parts only, and a killed writer loses at most its last flush."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from _s3 import S3, s3_bucket, s3_server  # noqa: F401
from modelyard.errors import StorageUnavailable
from modelyard.monitor import LogSchema, PredictionLog, check_prediction_log, read_prediction_log

pytestmark = pytest.mark.s3

SCHEMA = LogSchema("fraud", 3, (("amount", "float"), ("count", "integer")), "integer", (0, 1))


def keys(s3: S3) -> list[str]:
    return sorted(k for k in s3.fs().find(s3.bucket) if not k.endswith("/"))


def append(log: PredictionLog, start: int, n: int) -> None:
    for i in range(start, start + n):
        log.append(SCHEMA, f"r{i}", np.array([[float(i), 1.0]]), np.array([i % 2]),
                   np.array([[0.25, 0.75]]))


def test_closed_parts_are_single_objects_and_the_open_part_stays_local(
        s3: S3, tmp_path: Path) -> None:
    url = s3.url("predictions")
    spool = tmp_path / "spool"
    log = PredictionLog(url, spool_dir=spool, flush_interval_s=0.02, rotate_s=3600)
    assert log.root == url
    append(log, 0, 300)
    log.flush()
    # flushed to the open part: on local disk, readable after a crash, not in the bucket
    streams = list((spool / "fraud").glob(".part-*.arrows"))
    assert len(streams) == 1 and keys(s3) == []
    assert read_prediction_log(url, "fraud").num_rows == 0  # readers see closed parts only
    log.rotate()
    append(log, 300, 200)
    log.close()
    found = keys(s3)
    assert len(found) == 2, found
    prefix = f"{s3.bucket}/predictions/fraud/part-"
    assert all(k.startswith(prefix) and k.endswith(".parquet") for k in found)
    # each name is the stream's, so a part uploaded twice would land on the same key
    assert {streams[0].name[1:].removesuffix(".arrows") + ".parquet"} <= {
        k.rsplit("/", 1)[-1] for k in found}
    assert not list(spool.rglob(".part-*"))  # nothing left in the spool
    assert [pq.ParquetFile(s3.fs().open(k)).metadata.num_rows for k in found] == [300, 200]
    table = read_prediction_log(url, "fraud")
    assert table.column("request_id").to_pylist() == [f"r{i}" for i in range(500)]
    assert table.column("proba.1").to_pylist() == [0.75] * 500
    # a Path-typed option (``--log-dir``) turns s3:// into s3:/; it still names the bucket
    assert read_prediction_log(Path(url), "fraud").num_rows == 500
    assert read_prediction_log(url, "fraud", since=time.time() + 60).num_rows == 0


_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from modelyard.monitor import LogSchema, PredictionLog
    schema = LogSchema("fraud", 3, (("amount", "float"), ("count", "integer")), "integer",
                       (0, 1))
    log = PredictionLog(sys.argv[1], spool_dir=sys.argv[2], flush_interval_s=0.05,
                        rotate_bytes=20_000, rotate_s=3600)
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


def test_a_killed_writer_loses_no_flushed_row_and_nothing_is_uploaded_twice(
        s3: S3, tmp_path: Path) -> None:
    url, spool = s3.url("predictions"), tmp_path / "spool"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(spool)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    flushed = 0
    deadline = time.monotonic() + 60
    # kill it while a stream is open (not in the instant after a rotation closed one and
    # before the next flush opens another)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        flushed = int(line)
        if flushed >= 1500 and list((spool / "fraud").glob(".part-*.arrows")):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    assert flushed >= 1500, "the writer did not get going"
    uploaded = keys(s3)
    assert uploaded, "rotate_bytes should have closed parts while it ran"
    assert list((spool / "fraud").glob(".part-*.arrows")), "the crash left an open stream"

    # the dead writer's stream is uploaded by doctor (or any reader, or the next writer)
    repair = check_prediction_log(PredictionLog(url, spool_dir=spool).store)
    assert repair.recovered_files == 1 and repair.recovered_rows > 0
    assert not list((spool / "fraud").glob(".part-*"))
    assert len(keys(s3)) == len(uploaded) + 1
    ids = read_prediction_log(url, "fraud").column("request_id").to_pylist()
    assert len(ids) == len(set(ids))  # no row twice
    assert {f"r{i}" for i in range(flushed)} <= set(ids)
    assert check_prediction_log(PredictionLog(url, spool_dir=spool).store).recovered_rows == 0


def test_a_crash_between_upload_and_clean_up_uploads_nothing_twice(s3: S3,
                                                                   tmp_path: Path) -> None:
    """Died after the PUT, before removing its stream: the key already there is the proof."""
    from modelyard.monitor._logfiles import LogPart, read_stream

    url, spool = s3.url("predictions"), tmp_path / "spool"
    log = PredictionLog(url, spool_dir=spool, flush_interval_s=0.02)
    (spool / "fraud").mkdir(parents=True)
    part = LogPart(spool / "fraud", SCHEMA.arrow, 1, log.store)
    append(log, 0, 40)
    log.flush()
    log.close()
    table = read_prediction_log(url, "fraud")
    part.write(table)
    stream = part.stream
    part._writer.close()
    part._file.close()  # the process "dies" here: the stream stays, unlocked
    rows, complete = read_stream(stream)
    assert rows is not None and rows.num_rows == 40 and complete
    name = stream.name[1:].removesuffix(".arrows") + ".parquet"
    log.store.put("fraud", name, rows)  # its upload had completed
    before = keys(s3)
    assert check_prediction_log(log.store).recovered_rows == 0
    assert keys(s3) == before and not stream.exists()
    assert read_prediction_log(url, "fraud").num_rows == 80


def test_an_unreachable_store_keeps_the_part_local_and_says_so(
        s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, spool = s3.url("predictions"), tmp_path / "spool"
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    log = PredictionLog(url, spool_dir=spool, flush_interval_s=0.02)
    append(log, 0, 30)
    log.close()
    assert len(list((spool / "fraud").glob(".part-*.arrows"))) == 1  # kept, not lost
    with pytest.raises(StorageUnavailable, match="cannot list the prediction log at 's3://"):
        read_prediction_log(url, "fraud")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)  # the store is back
    assert read_prediction_log(PredictionLog(url, spool_dir=spool).store,
                               "fraud").num_rows == 30
    assert not list((spool / "fraud").glob(".part-*"))


def test_the_monitor_reads_its_log_from_the_bucket(s3: S3, tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import modelyard
    from modelyard.monitor import Monitor

    url = s3.url("predictions")
    log = PredictionLog(url, spool_dir=tmp_path / "spool", flush_interval_s=0.02)
    append(log, 0, 200)
    log.close()
    frame = pd.DataFrame({"amount": [1.0, 5.0, 3.0, 9.0], "count": [1, 2, 3, 4]})
    with modelyard.open(tmp_path / "project") as yard:
        yard.models.register("fraud", LogisticRegression().fit(frame, [0, 1, 0, 1]),
                             input_example=frame)
        monitor = Monitor(yard.store, yard.models, yard.settings, log_root=url)
        assert monitor.log_root == url
        report = monitor.check("fraud", window="last:100000", alerts=False,
                               reference="window:0/4102444800")
        assert [dict(w.versions) for w in report.windows] == [{"3": 200}]


def test_the_log_dir_setting_points_the_monitor_and_the_server_at_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import modelyard

    monkeypatch.setenv("MODELYARD_LOG_DIR", "s3://bucket/predictions")
    with modelyard.open(tmp_path) as yard:
        assert yard.settings.log_dir == "s3://bucket/predictions"
        assert yard.monitor.log_root == "s3://bucket/predictions"
    monkeypatch.delenv("MODELYARD_LOG_DIR")
    with modelyard.open(tmp_path) as yard:
        assert yard.monitor.log_root == yard.settings.state_dir / "predictions"
