"""One local Ray cluster (2 CPUs, 127.0.0.1, no dashboard) for the whole test run, started by
the first test that asks for it and stopped at the end; no Ray process outlives the run."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _raykit import make_rows, processes_mentioning

import modelyard
from modelyard.distributed import RayCluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """The run's local Ray cluster; its temporary files in a folder of its own."""
    temp = tempfile.mkdtemp(prefix="myray-", dir="/tmp")  # short: Ray puts sockets there
    cluster = RayCluster("", num_cpus=2, temp_dir=temp)
    cluster.connect()
    try:
        yield cluster
    finally:
        cluster.close()
        deadline = time.monotonic() + 20
        while (left := processes_mentioning(temp)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in left:  # only processes of the cluster this fixture started
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[modelyard.Yard]:
    """A yard on SQLite in a fresh folder, with dataset 'tx' (1,500 rows, a category)."""
    with modelyard.open(tmp_path) as yard:
        yard.datasets.ingest(make_rows(1500), name="tx")
        yield yard
