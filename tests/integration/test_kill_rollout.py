"""SIGKILL of a real server in the middle of a canary and in the middle of a hot swap, under
traffic: after each restart nothing stored is lost or corrupted (the store and every
artifact check out, every prediction answered before the last log flush is readable), and
the rollout state is consistent: the restarted server resumes the open canary, the loop's
controller carries on and promotes, and the swapped alias is served from the next start."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _slow_load import SlowToLoad, loads_begun

import modelyard
from _serving import Server, cancer_frame, make_project
from modelyard.loop import Audit, Policy, RolloutController, RolloutPolicy
from modelyard.monitor import check_prediction_log, read_prediction_log
from modelyard.store import check_store

pytestmark = pytest.mark.slow

FLUSH_S = 0.5
HERE = str(Path(__file__).parent)


class Traffic:
    """Threads posting one record each to ``cancer@champion`` (bounded); records each
    answer's (monotonic time, request id, version)."""

    def __init__(self, url: str, records: list[dict[str, Any]], threads: int = 2) -> None:
        self.url, self.records = url, records
        self.answers: list[tuple[float, str, int]] = []
        self.failed: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            for i in range(20_000):
                if self._stop.is_set():
                    return
                try:
                    r = http.post("/v1/models/cancer@champion/predict",
                                  json=self.records[i % 500])
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code != 200:
                    self.failed.append(r.status_code)
                    continue
                body = r.json()
                self.answers.append((time.monotonic(), body["request_id"], body["version"]))
                time.sleep(0.002)

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)


@contextlib.contextmanager
def serving(project: Path) -> Iterator[Server]:
    """A server given time to start on a loaded machine."""
    server = Server(project, ["cancer@champion"], {
        "MODELYARD_ALLOW_PICKLE": "1", "MODELYARD_LOG_FLUSH_INTERVAL_S": str(FLUSH_S),
        "MODELYARD_TEST_SLOW_LOAD": "1", "PYTHONPATH": HERE})
    try:
        server.wait_ready(120)
        yield server
    finally:
        server.__exit__(None, None, None)


def kill(server: Server) -> float:
    killed_at = time.monotonic()
    server.proc.kill()
    server.proc.wait(10)
    return killed_at


def stats(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/v1/models/cancer/stats", timeout=10)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def controller(yard: modelyard.Yard, url: str, canary_s: float) -> RolloutController:
    policy = Policy("cancer", rollout=RolloutPolicy(
        server_url=url, shadow_s=0.0, canary_share=0.5, canary_s=canary_s, min_requests=10,
        max_latency_ratio=1000.0, poll_s=0.1))
    return RolloutController(yard, policy, Audit(yard.store))


def assert_nothing_lost(yard: modelyard.Yard, project: Path,
                        answers: list[tuple[float, str, int]], killed_at: float) -> None:
    """The store and its artifacts check out, and every answer older than the last flush
    before the kill is in the log, once."""
    report = check_store(yard.store, repair=False, verify=True)
    assert report.problems == [] and report.missing == [] and report.corrupted == []
    root = project / ".modelyard" / "predictions"
    log = check_prediction_log(root)  # recovers what the killed server streamed
    assert log.failed == []
    ids = read_prediction_log(root, "cancer").column("request_id").to_pylist()
    logged = set(ids)
    assert len(ids) == len(logged)  # no row twice
    lost = [killed_at - t for t, rid, _ in answers if rid not in logged]
    assert all(age < FLUSH_S + 0.5 for age in lost), sorted(lost)[-5:]
    assert not list((root / "cancer").glob("*.tmp"))


def test_sigkill_during_a_canary_and_during_a_hot_swap_loses_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")  # v1 champion, v2 challenger-to-be
    X, y = cancer_frame()
    records = X.to_dict(orient="records")
    marker = tmp_path / "loading"
    with modelyard.open(project, allow_pickle=True) as yard:
        slow = yard.models.register("cancer", SlowToLoad(marker=str(marker), load_s=4.0)
                                    .fit(X, y), format="pickle", input_example=X.head(5))
        state: dict[str, Any] = {"cycle": "kill-test", "champion": 1, "challenger": 2}

        # 1. SIGKILL in the middle of a canary
        with serving(project) as server, Traffic(server.url, records) as traffic:
            loop = controller(yard, server.url, canary_s=3600.0)
            assert loop.begin(state) == "canary"
            deadline = time.monotonic() + 30
            while stats(server.url)["versions"].get("2", {}).get("requests", 0) < 20:
                assert time.monotonic() < deadline, "the canary never answered"
                assert loop.step(state) == "canary"
                time.sleep(0.1)
            killed_at = kill(server)
        answered = traffic.answers
        assert traffic.failed == [] and {v for _, _, v in answered} == {1, 2}
        open_rollout = yard.store.rollouts.current("cancer")
        assert open_rollout is not None and open_rollout.stage == "canary"
        assert_nothing_lost(yard, project, answered, killed_at)

        # the restarted server resumes the canary; the loop carries on and promotes
        with serving(project) as server, Traffic(server.url, records) as traffic:
            # it reads the open rollout from the store and loads the challenger in the
            # background, as at any start: within a few polls
            deadline = time.monotonic() + 20
            while (routed := stats(server.url)["rollout"]) is None:
                assert time.monotonic() < deadline, "the restarted server never resumed"
                time.sleep(0.1)
            assert routed["id"] == open_rollout.id and routed["stage"] == "canary"
            loop = controller(yard, server.url, canary_s=0.0)
            deadline = time.monotonic() + 60
            while (step := loop.step(state)) != "idle":
                assert step == "canary" and time.monotonic() < deadline, step
                time.sleep(0.1)
            assert state["outcome"] == "promoted", state
            assert yard.models.get("cancer@champion").version == 2
            deadline = time.monotonic() + 20
            while not traffic.answers or traffic.answers[-1][2] != 2 or \
                    stats(server.url)["rollout"] is not None:
                assert time.monotonic() < deadline, "the promotion never reached the server"
                time.sleep(0.1)

            # 2. SIGKILL in the middle of a hot swap (champion -> the slow-loading v3)
            yard.models.alias("cancer", "champion", slow.version)
            deadline = time.monotonic() + 20
            while not loads_begun(marker):
                assert time.monotonic() < deadline, "the server never began the swap"
                time.sleep(0.02)
            killed_at = kill(server)
        answered = traffic.answers
        assert traffic.failed == [] and {v for _, _, v in answered} <= {1, 2}
        ended = yard.store.rollouts.history("cancer", limit=1)[0]
        assert ended.id == open_rollout.id and ended.stage == "promoted" and not ended.is_open
        assert_nothing_lost(yard, project, answered, killed_at)

        # the next start serves the alias's version, loaded whole
        with serving(project) as server:
            answer = httpx.post(f"{server.url}/v1/models/cancer@champion/predict",
                                json=records[:3], timeout=10).json()
            assert answer["version"] == slow.version
            assert stats(server.url)["rollout"] is None
        assert len(loads_begun(marker)) == 2  # the killed swap, then the new start
        assert check_store(yard.store, repair=False, verify=True).problems == []
