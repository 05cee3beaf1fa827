"""A process registering model versions is SIGKILLed at random moments; afterwards the store
is intact and every version that exists loads and predicts: none is half-made."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

import modelyard
from modelyard.config import Settings

SQLITE_ROUNDS = 5
PG_ROUNDS = 2
WATCHDOG_S = 60.0

# A zygote imports everything once, then forks writers on request ("go K"), so each kill
# round costs milliseconds instead of an interpreter start. Each writer opens the yard after
# the fork and registers versions in a loop until it is killed.
ZYGOTE = textwrap.dedent("""
    import os, sys, traceback
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import modelyard

    project, db_url = sys.argv[1], sys.argv[2] or None

    def write():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 4))
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        model = LogisticRegression().fit(X, y)
        yard = modelyard.open(project, db_url=db_url)
        os.write(1, f"ready {os.getpid()}\\n".encode())  # one write: writers share the pipe
        i = 0
        while True:
            v = yard.models.register("faulty", model, input_example=X[:20], metrics={"i": i})
            if i % 3 == 0:
                yard.models.alias("faulty", "champion", v.version, reason=f"step {i}")
            i += 1

    # Warm every lazy import in the zygote, so a writer starts registering at once.
    import skops.io, tempfile
    with modelyard.open(project, db_url=db_url) as warm:
        warm.models.list()
    with tempfile.TemporaryDirectory() as tmp:
        skops.io.dump(LogisticRegression(), tmp + "/m.skops")

    for line in sys.stdin:
        pids = []
        for _ in range(int(line.split()[1])):
            pid = os.fork()
            if pid == 0:
                try:
                    write()
                except BaseException:
                    traceback.print_exc()
                    os.write(1, f"failed {os.getpid()}\\n".encode())
                finally:
                    os._exit(1)
            pids.append(pid)
        codes = [os.waitpid(pid, 0)[1] for pid in pids]
        print("reaped", *[os.WTERMSIG(c) if os.WIFSIGNALED(c) else -1 for c in codes],
              flush=True)
""")


def _expected() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, LogisticRegression().fit(X, y).predict(X)


def _kill_round(zygote: subprocess.Popen[str], rng: random.Random, writers: int) -> None:
    """Fork ``writers`` concurrent writers; SIGKILL each at its own random moment."""
    assert zygote.stdin is not None and zygote.stdout is not None
    zygote.stdin.write(f"go {writers}\n")
    zygote.stdin.flush()
    pids: list[int] = []
    try:
        for _ in range(writers):
            line = zygote.stdout.readline().split()
            assert line[:1] == ["ready"], f"writer did not start: {line}"
            pids.append(int(line[1]))
        start = time.monotonic()
        for pid, at in zip(pids, sorted(rng.uniform(0.0, 0.5) for _ in pids), strict=True):
            time.sleep(max(0.0, start + at - time.monotonic()))
            os.kill(pid, signal.SIGKILL)
    finally:
        for pid in pids:  # never leave a writer running, whatever failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    reaped = zygote.stdout.readline().split()
    assert reaped == ["reaped"] + [str(int(signal.SIGKILL))] * writers, reaped


def _check(settings: Settings, X: np.ndarray, expected: np.ndarray, seen: int) -> int:
    """The store opens, is intact, and every version in it loads and predicts."""
    with modelyard.open(settings.project_dir, db_url=settings.db_url or None) as yard:
        if yard.store.db.is_sqlite:
            with yard.store.db.engine.connect() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        versions = yard.models.versions("faulty") if yard.models.list() else []
        assert [v.version for v in versions] == list(range(1, len(versions) + 1))
        assert len(versions) >= seen
        for version in versions[seen:]:  # older ones were checked after earlier rounds
            predictor = yard.models.load(version.ref)
            np.testing.assert_array_equal(predictor.predict(X), expected)
        if versions and yard.models.get_model("faulty").aliases:
            champion = yard.models.get("faulty@champion")
            history = yard.models.alias_history("faulty", "champion")
            assert history[-1].to_version == champion.version
        return len(versions)


@pytest.mark.slow
def test_killed_registrations_leave_no_half_made_version(
    settings: Settings, tmp_path: Path
) -> None:
    script = tmp_path / "zygote.py"
    script.write_text(ZYGOTE, encoding="utf-8")
    rng = random.Random(1234)
    X, expected = _expected()
    seen = 0
    # Migrate first: this test is about registering, not about racing first opens.
    with modelyard.open(settings.project_dir, db_url=settings.db_url or None) as yard:
        yard_is_sqlite = yard.store.db.is_sqlite
    zygote = subprocess.Popen(
        [sys.executable, str(script), str(settings.project_dir), settings.db_url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"}, start_new_session=True,
    )
    # Whatever goes wrong, the zygote and its writers (its process group) die in time.
    watchdog = threading.Timer(WATCHDOG_S, os.killpg, (zygote.pid, signal.SIGKILL))
    watchdog.start()
    try:
        for _ in range(SQLITE_ROUNDS if yard_is_sqlite else PG_ROUNDS):
            _kill_round(zygote, rng, writers=2)
            seen = _check(settings, X, expected, seen)
    finally:
        _, err = zygote.communicate(timeout=WATCHDOG_S)  # closes stdin: the zygote ends
        watchdog.cancel()
    assert zygote.returncode == 0, err[-3000:]
    assert seen > 0, "the writer never registered a version; kill later"
    with modelyard.open(settings.project_dir, db_url=settings.db_url or None) as yard:
        # Files of killed registrations have no version; gc frees them, and only them.
        yard.gc(grace_s=0)
        versions = yard.models.versions("faulty")
        stored = {sha for sha, _ in yard.store.artifacts.list_blobs()}
        assert stored == {v.blob_sha256 for v in versions}
        for version in versions:
            np.testing.assert_array_equal(yard.models.load(version.ref).predict(X), expected)
