"""The loop's retraining on Ray: a policy with ``executor = "ray"`` trains the challenger in a
Ray worker while the loop process keeps renewing its lease and writes the audit trail."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.distributed import RayCluster, RayTrainer
from modelyard.loop import GatePolicy, Loop, Policy, RetrainPolicy

# A short lease (renewed every TTL_S / 3): a Ray retraining takes 4 s or more here, 3.96 s on
# a CI host, so it outlives three of them with room to spare.
TTL_S = 0.75
LOGREG = {"estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {}}}


def _champion(yard: modelyard.Yard) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=600) for i in range(3)})
    frame["y"] = (2 * frame["x0"] - frame["x1"] + rng.normal(scale=0.5, size=600) > 0
                  ).astype(np.int64)
    yard.datasets.ingest(frame, name="tx")
    yard.train({"model": "fraud", "dataset": "tx@latest", "target": "y",
                "estimator": "sklearn.dummy.DummyClassifier",
                "evaluation": {"primary_metric": "roc_auc"}}, aliases=("champion",))


def _policy() -> Policy:
    return Policy("fraud", retrain=RetrainPolicy(spec=LOGREG, executor="ray"),
                  gate=GatePolicy(bootstrap_samples=200, latency_budget_ms=1000.0))


@pytest.mark.ray
def test_a_ray_retraining_keeps_the_loops_lease_and_audit_trail(
        tmp_path: Path, ray_cluster: RayCluster) -> None:
    with modelyard.open(tmp_path) as yard:
        _champion(yard)
        loop = Loop(yard, lease_ttl_s=TTL_S,
                    trainers={"ray": RayTrainer(yard.settings, ray_cluster)})
        loop.set_policy(_policy())
        loop.trigger("fraud", "by hand")
        holders: list[tuple[float, str | None]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                holders.append((time.monotonic(), loop.lease.holder_now()))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        started = time.monotonic()
        watcher.start()
        try:
            assert loop.run_once()
        finally:
            stop.set()
            watcher.join()
        took = time.monotonic() - started
        events = loop.history("fraud")
        kinds = [e.kind for e in events]
        assert kinds == ["trigger", "retrain.started", "retrain.finished", "gate.passed",
                         "promoted"], [(e.kind, e.message) for e in events]
        assert events[1].message.endswith("on ray") and events[1].data["executor"] == "ray"
        # the challenger was trained in a Ray worker process, from the champion's spec
        challenger = yard.models.get("fraud/versions/2")
        run = yard.runs.get(str(challenger.run_id))
        assert run.pid != os.getpid() and run.tags["loop_cycle"] == events[0].data["cycle"]
        assert "LogisticRegression" in run.params["estimator"]
        # the retraining outlived the lease several times; once taken, it never lapsed
        assert took > 3 * TTL_S
        first = [h for _, h in holders].index(loop.lease.holder)
        held = holders[first:]
        assert {h for _, h in held} == {loop.lease.holder}
        assert held[-1][0] - held[0][0] > 3 * TTL_S


def test_a_ray_policy_without_a_trainer_fails_its_cycle_with_the_reason(
        tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        _champion(yard)
        loop = Loop(yard)
        loop.set_policy(_policy())
        loop.trigger("fraud", "by hand")
        loop.run_once()
        failed = loop.history("fraud")[-1]
        assert failed.kind == "retrain.failed" and "no ray trainer" in failed.message
        assert "modelyard loop start" in failed.message
        assert [v.version for v in yard.models.versions("fraud")] == [1]
