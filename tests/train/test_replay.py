"""Replay: a version rebuilt from its lineage alone gives the registered numbers, for each kind
of estimator the suite trains (tuned, pipelines, a tuned threshold, a regressor); what cannot
be rebuilt (an unseeded forest, data that is gone) says so; the CLI shows both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from typer.testing import CliRunner

import modelyard
from modelyard.cli import app
from modelyard.errors import NotFound
from modelyard.train import replay


@pytest.fixture
def yard(tmp_path: Path) -> Iterator[modelyard.Yard]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [str(c).replace(" ", "_") for c in X.columns]
    with modelyard.open(tmp_path) as opened:
        opened.datasets.ingest(X.assign(malignant=y), name="cancer")
        Xd, yd = load_diabetes(return_X_y=True, as_frame=True)
        opened.datasets.ingest(Xd.assign(progression=yd), name="diabetes")
        yield opened


def _spec(estimator: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": "cancer", "dataset": "cancer@latest", "target": "malignant",
        "estimator": estimator, "evaluation": {"test_size": 0.25, "cv": 2}}
    spec.update(more)
    return {k: v for k, v in spec.items() if v is not None}


_SPECS = {
    "tuned-hgb": _spec({"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                        "params": {"max_iter": 10, "random_state": 0}},
                       tune={"trials": 2, "cv": 2}),
    "pipeline": _spec(None, pipeline=["sklearn.preprocessing.StandardScaler", {
        "class": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5}}]),
    "threshold": _spec(None, pipeline=["sklearn.preprocessing.StandardScaler",
                                       "sklearn.linear_model.LogisticRegression"],
                       evaluation={"test_size": 0.3, "cv": 0, "threshold": "f1"}),
    "forest": _spec({"class": "sklearn.ensemble.RandomForestClassifier",
                     "params": {"n_estimators": 15, "random_state": 3}}, seed=7),
    "regressor": {"model": "diabetes", "dataset": "diabetes@latest", "target": "progression",
                  "estimator": "sklearn.linear_model.Ridge", "evaluation": {"cv": 3}},
}


@pytest.mark.parametrize("name", list(_SPECS))
def test_a_replayed_version_gives_the_registered_numbers(yard: modelyard.Yard,
                                                         name: str) -> None:
    trained = yard.train(_SPECS[name])
    original = trained.model_version
    report = replay(yard, original.ref)
    assert report.reproduced, report.mismatches
    assert report.same_split is True and report.environment == {}
    compared = [m for m in report.metrics if m.compared]
    assert len(compared) >= 3 and all(m.difference == 0 for m in compared)
    assert [m.name for m in report.metrics if not m.compared] == ["fit_time_s"]
    assert report.dataset == f"{original.dataset_ref}" and report.content_hash
    if name == "tuned-hgb":  # the tuned values are fixed, not searched again
        assert set(report.params) == set(trained.best_params) and report.params
        assert yard.runs.get(report.run_id).params.get("best.learning_rate") is None
    run = yard.runs.get(report.run_id)
    assert run.tags["replay_of"] == original.ref
    # the rebuilt version is deleted after the comparison; the original is untouched
    assert [v.version for v in yard.models.versions(original.model)] == [original.version]


def test_the_cli_shows_both_and_fails_when_the_numbers_differ(yard: modelyard.Yard) -> None:
    runner = CliRunner()
    project = ["--project", str(yard.settings.project_dir)]
    good = yard.train(_SPECS["pipeline"]).model_version
    # a forest without a random_state: its trees differ on every fit
    loose = yard.train(_spec({"class": "sklearn.ensemble.RandomForestClassifier",
                              "params": {"n_estimators": 5, "max_depth": 2}})).model_version
    result = runner.invoke(app, ["models", "replay", good.ref, "--keep", *project])
    assert result.exit_code == 0, result.output
    assert "reproduced" in result.output and "roc_auc" in result.output
    assert "the same held-out rows" in result.output
    kept = [v for v in yard.models.versions("cancer") if v.version > loose.version]
    assert len(kept) == 1 and not kept[0].aliases
    result = runner.invoke(app, ["models", "replay", loose.ref, "--json", *project])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["reproduced"] is False and data["same_split"] is True
    assert any(m["difference"] not in (0, None) for m in data["metrics"] if m["compared"])


def test_a_version_whose_data_is_gone_says_so(yard: modelyard.Yard) -> None:
    version = yard.train(_SPECS["regressor"]).model_version
    blob = yard.datasets.get(version.dataset_ref).blob_sha256
    removed = [p for p in yard.settings.project_dir.rglob(f"*{blob}*") if p.is_file()]
    assert removed
    for path in removed:
        path.unlink()
    with pytest.raises(NotFound, match=r"the data of diabetes@1 .* is gone from the artifact "
                                       r"store, so it cannot be replayed"):
        replay(yard, version.ref)
    assert pd.isna(yard.models.get(version.ref).metrics.get("nothing", float("nan")))
