"""The background metric writer: batching, early flush, heartbeats, errors, exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import modelyard
from modelyard.config import Settings
from modelyard.errors import StorageUnavailable
from modelyard.tracking._writer import writer


@pytest.fixture
def fast_yard(settings: Settings) -> Iterator[modelyard.Yard]:
    """A yard whose writer flushes and beats every 50 ms."""
    y = modelyard.open(settings.project_dir, db_url=settings.db_url or None,
                       metric_flush_interval_s=0.05, run_heartbeat_s=0.05)
    yield y
    y.close()


def _eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_values_are_written_in_the_background(fast_yard: modelyard.Yard) -> None:
    with fast_yard.run() as run:
        for i in range(100):
            run.log_metric("loss", float(i))
        # Read through the repository, which does not flush: only the writer thread can.
        _eventually(lambda: len(fast_yard.store.runs.metric_history(run.id, "loss")) == 100)


def test_a_full_buffer_is_flushed_early(settings: Settings) -> None:
    yard = modelyard.open(settings.project_dir, db_url=settings.db_url or None,
                          metric_flush_interval_s=60.0, metric_flush_max_rows=50)
    try:
        with yard.run() as run:
            for i in range(50):
                run.log_metric("m", float(i))
            _eventually(lambda: len(yard.store.runs.metric_history(run.id, "m")) == 50)
    finally:
        yard.close()


def test_heartbeat_advances_while_running(fast_yard: modelyard.Yard) -> None:
    with fast_yard.run():
        first = fast_yard.store.runs.live()[0].heartbeat_at
        _eventually(lambda: fast_yard.store.runs.live()[0].heartbeat_at > first)


def test_the_thread_stops_when_no_run_is_open(fast_yard: modelyard.Yard) -> None:
    with fast_yard.run():
        assert writer().thread is not None
    _eventually(lambda: writer().thread is None)


def test_a_transient_write_error_is_retried(fast_yard: modelyard.Yard,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    repo = fast_yard.store.runs
    real = repo.insert_metrics
    failures = iter([True, True])

    def flaky(values: list[tuple[str, str, float, int, float]]) -> None:
        if next(failures, False):
            raise StorageUnavailable("database is down")
        real(values)

    monkeypatch.setattr(repo, "insert_metrics", flaky)
    with fast_yard.run() as run:
        for i in range(10):
            run.log_metric("m", float(i))
    assert [m.value for m in fast_yard.runs.metric_history(run.id, "m")] == [
        float(i) for i in range(10)]
    assert fast_yard.runs.get(run.id).status == "finished"


def test_a_lasting_write_error_surfaces_at_end(fast_yard: modelyard.Yard,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(session: object, values: list[tuple[str, str, float, int, float]]) -> None:
        if values:
            raise StorageUnavailable("disk full")

    run = fast_yard.run()
    monkeypatch.setattr(fast_yard.store.runs, "_insert_metrics", broken)
    run.log_metric("m", 1.0)
    with pytest.raises(StorageUnavailable, match="could not be written"):
        run.flush()
    with pytest.raises(StorageUnavailable, match="1 metric values could not be written"):
        run.end()
    got = fast_yard.runs.get(run.id)
    assert got.status == "failed" and "disk full" in got.failure


def test_one_broken_run_does_not_hold_back_another(fast_yard: modelyard.Yard,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    repo = fast_yard.store.runs
    real = repo._insert_metrics
    good, bad = fast_yard.run("good"), fast_yard.run("bad")

    def picky(session: Session, values: list[tuple[str, str, float, int, float]]) -> None:
        if any(v[0] == bad.id for v in values):
            raise StorageUnavailable("refused")
        real(session, values)

    monkeypatch.setattr(repo, "_insert_metrics", picky)
    good.log_metric("m", 1.0)
    bad.log_metric("m", 1.0)
    _eventually(lambda: len(repo.metric_history(good.id, "m")) == 1)
    good.end()
    with pytest.raises(StorageUnavailable):
        bad.end()


def _run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, check=False)


def test_runs_left_open_end_finished_at_exit(tmp_path: Path) -> None:
    done = _run_script(tmp_path, f"""
        import modelyard
        yard = modelyard.open({str(tmp_path)!r}, metric_flush_interval_s=60)
        run = yard.run("forgotten")
        for i in range(1000):
            run.log_metric("m", i)
        print(run.id)
    """)
    assert done.returncode == 0, done.stderr
    with modelyard.open(tmp_path) as yard:
        got = yard.runs.get(done.stdout.strip())
        assert got.status == "finished"
        assert len(yard.runs.metric_history(got.id, "m")) == 1000


def test_a_crash_outside_the_with_block_fails_the_run_at_exit(tmp_path: Path) -> None:
    done = _run_script(tmp_path, f"""
        import modelyard
        yard = modelyard.open({str(tmp_path)!r})
        run = yard.run("crashes")
        run.log_metric("m", 1.0)
        print(run.id, flush=True)
        raise RuntimeError("out of memory")
    """)
    assert done.returncode == 1
    with modelyard.open(tmp_path) as yard:
        got = yard.runs.get(done.stdout.strip())
        assert got.status == "failed" and "RuntimeError: out of memory" in got.failure
        assert got.metrics == {"m": 1.0}


def test_a_forked_child_exiting_does_not_end_the_parents_run(tmp_path: Path) -> None:
    done = _run_script(tmp_path, f"""
        import os, sys
        import modelyard
        yard = modelyard.open({str(tmp_path)!r})
        run = yard.run("parent")
        run.log_metric("m", 1.0)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # runs atexit hooks in the child
        os.waitpid(pid, 0)
        print(yard.runs.get(run.id).status)
        run.end()
        print(yard.runs.get(run.id).status, yard.runs.get(run.id).metrics["m"])
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["running", "finished", "1.0"]
