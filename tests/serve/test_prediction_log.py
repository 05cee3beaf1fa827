"""The prediction log (monitor part): format, rotation, back-pressure, flush on close."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from modelyard.monitor import LogSchema, PredictionLog, iter_prediction_log, read_prediction_log

SCHEMA = LogSchema("fraud", 3, (("amount", "float"), ("count", "integer"),
                                ("country", "string")), "integer", (0, 1))


def test_rows_columns_and_types(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    log.append(SCHEMA, "r1", [{"amount": 1.5, "count": 2, "country": "DE"},
                              {"amount": 2.0, "count": None, "country": None}],
               np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), alias="champion",
               latency_ms=1.25, ts=1_700_000_000.5)
    log.append(SCHEMA, "r2", np.array([[3.0, 4.0, np.nan]]), np.array([1]), None)
    log.close()
    table = read_prediction_log(tmp_path, "fraud")
    assert table.num_rows == 3
    types = {f.name: f.type for f in table.schema}
    assert types["row"] == pa.int32() and types["version"] == pa.int32()
    assert types["ts"] == pa.timestamp("us", tz="UTC") and types["status"] == pa.int16()
    assert types["input.count"] == pa.int64() and types["input.country"] == pa.string()
    rows = table.to_pylist()
    assert [r["request_id"] for r in rows] == ["r1", "r1", "r2"]
    assert [r["row"] for r in rows] == [0, 1, 0]
    assert rows[0]["alias"] == "champion" and rows[2]["alias"] is None
    assert rows[0]["ts"] == datetime.fromtimestamp(1_700_000_000.5, UTC)
    assert rows[1]["input.count"] is None and rows[2]["input.count"] == 4
    assert rows[1]["proba.1"] == 0.8 and rows[2]["proba.1"] is None
    assert rows[0]["latency_ms"] == 1.25 and rows[0]["model"] == "fraud"


def test_a_server_s_one_row_requests_keep_their_rows_in_order(tmp_path: Path) -> None:
    """The writer stacks a server's arrays as they come (one row each, then a request of
    two rows) and writes them about 256 rows at a time; every row keeps its request,
    position, inputs and probabilities."""
    log = PredictionLog(tmp_path, flush_interval_s=60)  # one write: close() drains it all
    for i in range(300):
        log.append(SCHEMA, f"q{i}", np.array([[float(i), float(2 * i), np.nan]]),
                   np.array([i % 2]), np.array([[1 - i / 100, i / 100]]))
    log.append(SCHEMA, "pair", np.array([[7.0, 8.0, np.nan], [9.0, 10.0, np.nan]]),
               np.array([1, 0]), np.array([[0.3, 0.7], [0.6, 0.4]]), alias="canary")
    log.close()
    rows = read_prediction_log(tmp_path, "fraud").to_pylist()
    assert [r["request_id"] for r in rows] == [f"q{i}" for i in range(300)] + ["pair", "pair"]
    assert [r["row"] for r in rows] == [0] * 300 + [0, 1]
    assert [r["input.amount"] for r in rows] == [float(i) for i in range(300)] + [7.0, 9.0]
    assert [r["input.count"] for r in rows] == [2 * i for i in range(300)] + [8, 10]
    assert [r["prediction"] for r in rows] == [i % 2 for i in range(300)] + [1, 0]
    assert [r["proba.1"] for r in rows] == [i / 100 for i in range(300)] + [0.7, 0.4]
    assert [r["alias"] for r in rows[-3:]] == [None, "canary", "canary"]


def test_files_rotate_by_size_and_age_and_appear_only_when_closed(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, rotate_bytes=1, flush_interval_s=0.02)
    for i in range(3):
        log.append(SCHEMA, f"r{i}", np.array([[1.0, 2.0, np.nan]]), np.array([0]), None)
        log.flush()
    log.close()
    assert len(list((tmp_path / "fraud").glob("part-*.parquet"))) == 3
    aged = PredictionLog(tmp_path / "aged", rotate_s=0.05, flush_interval_s=0.02)
    aged.append(SCHEMA, "a", np.array([[1.0, 2.0, np.nan]]), np.array([0]), None)
    deadline = time.monotonic() + 5
    while not list((tmp_path / "aged" / "fraud").glob("part-*.parquet")):
        assert time.monotonic() < deadline, "the old file was never closed"
        time.sleep(0.02)
    assert aged.files_written == 1
    aged.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_queue_rows=3, flush_interval_s=60)
    accepted = [log.append(SCHEMA, f"r{i}", np.array([[1.0, 2.0, 3.0]]), np.array([0]), None)
                for i in range(5)]
    assert accepted == [True, True, True, False, False] and log.dropped_rows == 2
    log.close()
    assert read_prediction_log(tmp_path, "fraud").num_rows == 3
    assert not log.append(SCHEMA, "late", np.array([[1.0, 2.0, 3.0]]), np.array([0]), None)


def test_versions_with_other_inputs_combine_and_time_filters(tmp_path: Path) -> None:
    other = LogSchema("fraud", 4, (("amount", "float"), ("channel", "string")), "integer")
    log = PredictionLog(tmp_path)
    log.append(SCHEMA, "old", np.array([[1.0, 2.0, np.nan]]), np.array([0]), None, ts=100.0)
    log.append(other, "new", [{"amount": 5.0, "channel": "web"}], np.array([1]), ts=200.0)
    log.close()
    table = read_prediction_log(tmp_path, "fraud")
    assert sorted(table.column("version").to_pylist()) == [3, 4]
    assert "input.channel" in table.column_names and "input.count" in table.column_names
    assert read_prediction_log(tmp_path, "fraud", since=150.0).column(
        "request_id").to_pylist() == ["new"]
    assert read_prediction_log(tmp_path, "fraud", until=datetime.fromtimestamp(
        150, UTC)).column("request_id").to_pylist() == ["old"]
    assert sum(b.num_rows for b in iter_prediction_log(tmp_path, "fraud")) == 2
    assert read_prediction_log(tmp_path, "nobody").num_rows == 0


def test_unwritable_values_become_null_not_a_dead_writer(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    log.append(SCHEMA, "odd", np.array([[1.0, 2.0, 3.0]]), np.array(["not-a-number"]), None)
    log.close()
    table = read_prediction_log(tmp_path, "fraud")
    assert table.num_rows == 1 and table.column("prediction")[0].as_py() is None



def test_a_busy_server_s_rows_are_written_without_waiting_for_the_interval(
        tmp_path: Path) -> None:
    """256 waiting rows wake the writer at once: a busy server's rows are written in
    small steps, not all together once per flush interval."""
    log = PredictionLog(tmp_path, flush_interval_s=60)
    log.append(SCHEMA, "first", np.array([[1.0, 2.0, np.nan]]), np.array([0]), None)
    for i in range(255):
        log.append(SCHEMA, f"r{i}", np.array([[1.0, 2.0, np.nan]]), np.array([0]), None)
    deadline = time.monotonic() + 10
    while log.written_rows < 256:
        assert time.monotonic() < deadline, "the writer waited for its 60 s interval"
        time.sleep(0.01)
    assert log.queued_rows == 0
    log.close()
    assert read_prediction_log(tmp_path, "fraud").num_rows == 256


def test_a_batch_of_requests_is_logged_as_each_of_its_requests(tmp_path: Path) -> None:
    """What a server queues per predicted batch reads back exactly as if each request had
    been appended alone: its rows, positions, alias, latency and arrival time."""
    log = PredictionLog(tmp_path)
    log.append(SCHEMA, "alone", np.array([[0.5, 1.0, np.nan]]), np.array([0]),
               np.array([[0.9, 0.1]]), alias="champion", latency_ms=2.0, ts=100.0)
    assert log.append_batch(
        SCHEMA, ["a", "b", "c"], [1, 2, 1],
        np.array([[1.0, 1.0, np.nan], [2.0, 2.0, np.nan], [3.0, 3.0, np.nan],
                  [4.0, 4.0, np.nan]]),
        np.array([1, 0, 1, 0]), np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.5, 0.5]]),
        aliases=["champion", None, "shadow"], latency_ms=[3.0, 4.0, 5.0],
        ts=[101.0, 102.0, 103.0])
    log.close()
    rows = read_prediction_log(tmp_path, "fraud").to_pylist()
    assert [(r["request_id"], r["row"]) for r in rows] == [
        ("alone", 0), ("a", 0), ("b", 0), ("b", 1), ("c", 0)]
    assert [r["input.amount"] for r in rows] == [0.5, 1.0, 2.0, 3.0, 4.0]
    assert [r["prediction"] for r in rows] == [0, 1, 0, 1, 0]
    assert [r["proba.1"] for r in rows] == [0.1, 0.8, 0.3, 0.6, 0.5]
    assert [r["alias"] for r in rows] == ["champion", "champion", None, None, "shadow"]
    assert [r["latency_ms"] for r in rows] == [2.0, 3.0, 4.0, 4.0, 5.0]
    assert [r["ts"].timestamp() for r in rows] == [100.0, 101.0, 102.0, 102.0, 103.0]
    assert log.answered("fraud", ["b", "c", "never"]) == {"b": 2, "c": 1}


def test_a_batch_whose_lists_disagree_is_refused_and_nothing_is_queued(
        tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    matrix = np.array([[1.0, 1.0, np.nan], [2.0, 2.0, np.nan]])
    with pytest.raises(ValueError, match="2 request ids, 2 counts, 1 aliases"):
        log.append_batch(SCHEMA, ["a", "b"], [1, 1], matrix, np.array([1, 0]),
                         aliases=[None], latency_ms=[1.0, 1.0], ts=[1.0, 1.0])
    with pytest.raises(ValueError, match="add up to 3 rows but 2 rows were given"):
        log.append_batch(SCHEMA, ["a", "b"], [1, 2], matrix, np.array([1, 0]),
                         aliases=[None, None], latency_ms=[1.0, 1.0], ts=[1.0, 1.0])
    assert log.queued_rows == 0
    log.close()
