"""Batch scoring: Ray Data and in-process chunks give identical predictions, stored as a new
dataset version whose lineage names the model version and the input version; rows that
break the signature fail the job before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _raykit import make_rows

import modelyard
from modelyard.cli import main
from modelyard.distributed import RayCluster, score
from modelyard.errors import ValidationFailed


def _champion(yard: modelyard.Yard) -> str:
    return yard.train({
        "model": "fraud", "dataset": "tx@latest", "target": "fraud",
        "estimator": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                      "params": {"max_iter": 20}}}, aliases=("champion",)).ref


@pytest.mark.ray
def test_ray_data_scoring_is_identical_to_in_process_scoring(
        lake: modelyard.Yard, ray_cluster: RayCluster) -> None:
    ref = _champion(lake)
    lake.datasets.ingest(make_rows(3000, seed=1).drop(columns=["fraud"]), name="new")
    on_ray = score(lake, "fraud@champion", "new@1", executor="ray", cluster=ray_cluster,
                   batch_size=1000)
    here = score(lake, "fraud@champion", "new@1", executor="local", batch_size=1000,
                 output="new-scored-here")
    ray_frame = lake.datasets.load(on_ray.output.ref)
    local_frame = lake.datasets.load(here.output.ref)
    pd.testing.assert_frame_equal(ray_frame, local_frame, check_exact=True)
    assert on_ray.output.content_hash == here.output.content_hash
    # and both equal the model's own predictions on the whole frame, row for row
    predictor = lake.models.load(ref)
    rows = lake.datasets.load("new@1")
    assert np.array_equal(ray_frame["prediction"].to_numpy(), predictor.predict(rows))
    assert np.array_equal(ray_frame[["proba_0", "proba_1"]].to_numpy(),
                          predictor.predict_proba(rows))
    assert list(ray_frame.columns[:3]) == ["amount", "age", "channel"]
    assert on_ray.output.ref == "new-scored-fraud@1" and on_ray.output.n_rows == 3000
    # the lineage: a scoring run naming the model version, the input and the output
    run = lake.runs.get(on_ray.run_id)
    assert run.tags["model_version"] == ref and run.tags["input"] == "new@1"
    assert run.tags["output"] == "new-scored-fraud@1" and run.tags["executor"] == "ray"
    assert lake.datasets.runs_using("new-scored-fraud@1") == [on_ray.run_id]
    assert on_ray.run_id in lake.datasets.runs_using("new@1")


def test_the_score_command_reports_the_new_version(
        lake: modelyard.Yard, capsys: pytest.CaptureFixture[str]) -> None:
    _champion(lake)
    root = str(lake.settings.project_dir)
    main(["score", "fraud@champion", "tx@1", "--executor", "local", "--batch-size", "400",
          "--predictions-only", "--json", "-C", root])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["output"] == "tx-scored-fraud@1" and report["rows"] == 1500
    stored = lake.datasets.load("tx-scored-fraud@1")
    assert list(stored.columns) == ["prediction", "proba_0", "proba_1"]


def test_rows_that_break_the_signature_fail_before_anything_is_written(
        lake: modelyard.Yard) -> None:
    _champion(lake)
    bad = make_rows(50).drop(columns=["age"]).assign(amount="lots")
    lake.datasets.ingest(bad, name="bad")
    with pytest.raises(ValidationFailed) as caught:
        score(lake, "fraud@champion", "bad@1", executor="local")
    assert "'age'" in caught.value.message and "'amount'" in caught.value.message
    assert [d.name for d in lake.datasets.list()] == ["bad", "tx"]


def test_the_score_command_says_what_is_wrong_in_one_line(
        lake: modelyard.Yard, capsys: pytest.CaptureFixture[str]) -> None:
    _champion(lake)
    with pytest.raises(SystemExit) as code:
        main(["score", "fraud@champion", "tx@1", "--executor", "spark",
              "-C", str(lake.settings.project_dir)])
    assert code.value.code != 0
    err = capsys.readouterr().err
    assert "executor must be one of local, ray; got 'spark'" in err and "Traceback" not in err
