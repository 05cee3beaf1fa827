from __future__ import annotations

from typing import Any

from _loopkit import make_champion, make_frame

import modelyard
from modelyard.loop import GatePolicy, Loop, Policy, RetrainPolicy, TriggerPolicy

LOGREG = {"estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {}}}
DUMMY = {"estimator": {"class": "sklearn.dummy.DummyClassifier", "params": {}}}


def _loop(yard: modelyard.Yard, retrain: dict[str, Any], **gate: Any) -> Loop:
    loop = Loop(yard)
    loop.set_policy(Policy("fraud", triggers=TriggerPolicy(new_data=True),
                           retrain=RetrainPolicy(spec=retrain),
                           gate=GatePolicy(bootstrap_samples=200, **gate)))
    return loop


def _kinds(loop: Loop) -> list[str]:
    return [e.kind for e in loop.history("fraud")]


def test_better_challenger_passes_and_is_promoted(yard: modelyard.Yard) -> None:
    make_champion(yard)  # a prior-only dummy: roc_auc 0.5
    loop = _loop(yard, LOGREG)
    assert loop.run_once() and _kinds(loop) == []  # first look: nothing new
    yard.datasets.ingest(make_frame(800, seed=9), name="tx")
    assert loop.run_once()
    assert _kinds(loop) == ["trigger", "retrain.started", "retrain.finished", "gate.passed",
                            "promoted"]
    passed = loop.history("fraud")[3]
    assert passed.data["challenger_score"] > passed.data["champion_score"] + 0.2
    assert passed.data["test"] == "bootstrap" and passed.data["p_value"] < 0.05
    champion = yard.models.get("fraud@champion")
    assert champion.version == 2 and champion.dataset_ref == "tx@2"
    assert yard.models.alias_history("fraud", "champion")[-1].reason.startswith("loop cycle")
    assert loop.status()[0].step == "idle" and loop.status()[0].last["outcome"] == "promoted"
    # after the promotion the status shows the new champion, and no stale challenger alias
    assert (loop.status()[0].champion, loop.status()[0].challenger) == (2, None)
    assert "challenger" not in yard.models.get_model("fraud").aliases
    loop.run_once()
    assert len(yard.models.versions("fraud")) == 2  # nothing new: no second retraining


def test_worse_challenger_is_rejected_and_stays_registered(yard: modelyard.Yard) -> None:
    make_champion(yard, estimator="sklearn.linear_model.LogisticRegression")
    loop = _loop(yard, DUMMY)
    loop.run_once()
    yard.datasets.ingest(make_frame(800, seed=9), name="tx")
    loop.run_once()
    assert _kinds(loop)[-1] == "gate.rejected"
    rejected = loop.history("fraud")[-1]
    assert "not better" in rejected.message and rejected.data["passed"] is False
    assert yard.models.get("fraud@champion").version == 1
    v2 = yard.models.get("fraud@2")
    assert "challenger" in v2.aliases and v2.description.startswith("rejected by the loop's gate")


def test_accuracy_gate_uses_mcnemar_and_floors(yard: modelyard.Yard) -> None:
    make_champion(yard)
    loop = _loop(yard, LOGREG, metric="accuracy", floors={"recall": 0.99})
    loop.run_once()
    yard.datasets.ingest(make_frame(800, seed=9), name="tx")
    loop.run_once()
    gate = loop.history("fraud")[-1]
    assert gate.kind == "gate.rejected" and gate.data["test"] == "mcnemar"
    assert gate.data["p_value"] < 0.05 and "recall" in gate.message and "floor" in gate.message


def test_latency_budget(yard: modelyard.Yard) -> None:
    make_champion(yard)
    loop = _loop(yard, LOGREG, latency_budget_ms=0.0)
    loop.run_once()
    loop.trigger("fraud", "test")
    loop.run_once()
    assert "over the budget" in loop.history("fraud")[-1].message


def test_resume_after_crash_does_not_retrain_twice(yard: modelyard.Yard) -> None:
    make_champion(yard)
    loop = _loop(yard, LOGREG)
    loop.trigger("fraud", "by hand")
    model_loop = loop._model_loop("fraud")
    assert model_loop.step()  # retraining -> gating: v2 registered, state saved
    state = model_loop.state()
    # the process died after registering but before saving: the state still says retraining
    yard.store.loop.save_state("fraud", {**state, "step": "retraining", "challenger": None})
    loop.run_once()
    assert len(yard.models.versions("fraud")) == 2
    assert _kinds(loop).count("retrain.finished") == 1 and _kinds(loop)[-1] == "promoted"
    # and a promotion repeated after the fact changes nothing
    yard.store.loop.save_state("fraud", {**state, "step": "gating"})
    loop.run_once()
    assert _kinds(loop).count("promoted") == 1
    assert [e.to_version for e in yard.models.alias_history("fraud", "champion")] == [1, 2]


def test_two_loops_on_one_store_only_one_acts(yard: modelyard.Yard) -> None:
    make_champion(yard)
    other_yard = modelyard.open(yard.settings.project_dir, db_url=yard.settings.db_url or None)
    try:
        first, second = _loop(yard, LOGREG), _loop(other_yard, LOGREG)
        assert first.run_once()
        assert not second.run_once()
        first.lease.release()
        assert second.run_once()
        assert not first.run_once()
    finally:
        other_yard.close()


def test_yard_loop_reads_toml(yard: modelyard.Yard) -> None:
    (yard.settings.project_dir / "modelyard.toml").write_text(
        "[loop.fraud.triggers]\nnew_data = true\n", encoding="utf-8")
    fresh = modelyard.open(yard.settings.project_dir, db_url=yard.settings.db_url or None)
    try:
        assert fresh.loop.policies["fraud"].triggers.new_data
    finally:
        fresh.close()
