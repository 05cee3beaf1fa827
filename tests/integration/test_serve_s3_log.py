"""A real server logging its predictions to a real S3 API (moto in server mode on 127.0.0.1):
its own monitoring pass reads back from the bucket exactly what it answered, a SIGKILL
loses at most the last flush, ``modelyard doctor`` uploads what the dead server left in the
spool and ``modelyard monitor`` reads the bucket back with exact counts."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _s3 import S3, s3_bucket, s3_server  # noqa: F401
from _serving import Server, cancer_frame, make_project
from modelyard.cli import main
from modelyard.monitor import read_prediction_log
from modelyard.monitor._logstore import default_spool

pytestmark = [pytest.mark.s3, pytest.mark.slow]

X, _ = cancer_frame()
BODY = json.dumps({k: float(v) for k, v in X.iloc[0].items()}).encode()
FLUSH_S = 0.5
PREDICT = "/v1/models/cancer@champion/predict"


@contextlib.contextmanager
def serving(project: Path, url: str, env: dict[str, str]) -> Iterator[Server]:
    """A server logging to ``url``, given time to start on a loaded machine."""
    server = Server(project, ["cancer@champion"], env, "--log-dir", url)
    try:
        server.wait_ready(120)
        yield server
    finally:
        server.__exit__(None, None, None)


def answer(http: httpx.Client) -> str:
    r = http.post(PREDICT, content=BODY)
    assert r.status_code == 200, r.text
    return str(r.json()["request_id"])


def test_a_server_logs_to_s3_and_a_kill_loses_at_most_the_last_flush(
        s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path)
    url = s3.url("predictions")
    env = {"MODELYARD_LOG_FLUSH_INTERVAL_S": str(FLUSH_S), "MODELYARD_MAX_BATCH_WAIT_MS": "2"}
    try:
        answered: list[tuple[float, str]] = []
        stop = threading.Event()

        def load(url: str) -> None:
            with httpx.Client(base_url=url, timeout=5) as http:
                while not stop.is_set() and len(answered) < 20_000:
                    try:
                        answered.append((time.monotonic(), answer(http)))
                    except httpx.TransportError:
                        return

        with serving(project, url, env) as server:
            # 1. the server's own monitoring pass closes its parts (one PUT each) and
            # reads them back from the bucket: exactly the predictions it answered
            with httpx.Client(base_url=server.url, timeout=60) as http:
                first = [answer(http) for _ in range(40)]
                assert s3.fs().find(s3.bucket) == []  # the open part is still local
                checked = http.post("/v1/models/cancer/monitor", json={
                    "window": "last:100000", "reference": "window:0/4102444800"})
                assert checked.status_code == 200, checked.text
                assert [w["versions"] for w in checked.json()["windows"]] == [{"1": 40}]
            keys = s3.fs().find(s3.bucket)
            assert keys and all(k.rsplit("/", 1)[-1].startswith("part-") for k in keys)
            assert read_prediction_log(url, "cancer").column("request_id").to_pylist() \
                == first

            # 2. SIGKILL under load
            threads = [threading.Thread(target=load, args=(server.url,), daemon=True)
                       for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(2.5)
            killed_at = time.monotonic()
            server.proc.kill()
            server.proc.wait(10)
            stop.set()
            for t in threads:
                t.join(10)
        assert len(answered) > 50, "too little load to mean anything"

        # 3. `modelyard doctor` uploads the dead server's open part from this machine's
        # spool; `modelyard monitor` reads the bucket and counts every logged prediction
        assert list((default_spool(url) / "cancer").glob(".part-*.arrows"))
        try:
            main(["doctor", "--log-dir", url, "--no-verify", "--json", "--project",
                  str(project)])
        except SystemExit as exc:
            assert not exc.code, capsys.readouterr()
        doctor = json.loads(capsys.readouterr().out)
        assert doctor["log_recovered_files"] == 1 and doctor["log_recovered_rows"] > 0
        assert not list((default_spool(url) / "cancer").glob(".part-*"))
        code = 0
        try:
            main(["monitor", "cancer", "--log-dir", url, "--window", "last:1000000",
                  "--reference", "window:0/4102444800", "--no-alerts", "--json",
                  "--project", str(project)])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert code == 0, err
        report = json.loads(out)
        logged = set(read_prediction_log(url, "cancer").column("request_id").to_pylist())
        assert sum(report["windows"][0]["versions"].values()) == len(logged)
        assert set(first) <= logged
        lost = [killed_at - t for t, rid in answered if rid not in logged]
        # a flush every FLUSH_S: only rows answered in the last interval (plus a write) miss
        assert all(age < FLUSH_S + 0.5 for age in lost), sorted(lost)[-5:]
        assert len(logged) >= len(first) + len(answered) - len(lost)
        assert not list((default_spool(url) / "cancer").glob(".part-*"))
    finally:
        shutil.rmtree(default_spool(url), ignore_errors=True)
