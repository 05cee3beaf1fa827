"""The gate compares in the direction the metric is better, for every metric training knows."""

from __future__ import annotations

from _loopkit import make_champion, make_frame

import modelyard
from modelyard.loop import GatePolicy, Loop, Policy, RetrainPolicy, TriggerPolicy
from modelyard.store import LoopEvent

LOGREG = {"estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {}}}


def _cycle(yard: modelyard.Yard, **gate: object) -> LoopEvent:
    make_champion(yard)  # a prior-only dummy: it never flags the minority class
    loop = Loop(yard)
    loop.set_policy(Policy("fraud", triggers=TriggerPolicy(new_data=True),
                           retrain=RetrainPolicy(spec=LOGREG),
                           gate=GatePolicy(bootstrap_samples=200, **gate)))  # type: ignore[arg-type]
    loop.run_once()
    yard.datasets.ingest(make_frame(800, seed=9), name="tx")
    loop.run_once()
    return next(e for e in loop.history("fraud") if e.kind.startswith("gate."))


def test_a_lower_cost_challenger_passes_a_gate_on_cost(yard: modelyard.Yard) -> None:
    gate = _cycle(yard, metric="cost@10")
    assert gate.kind == "gate.passed", gate.message
    assert gate.data["challenger_score"] < gate.data["champion_score"]
    assert yard.models.get("fraud@champion").version == 2


def test_a_ceiling_on_a_lower_is_better_metric_rejects_a_high_value(
        yard: modelyard.Yard) -> None:
    gate = _cycle(yard, metric="roc_auc", floors={"cost@10": 0.0001})
    assert gate.kind == "gate.rejected"
    assert "cost@10" in gate.message and "above its ceiling" in gate.message
