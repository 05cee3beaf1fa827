"""What the CLI prints and writes: JSON for scripts, prediction files, the fitted params of a
tuned run, data shown as it is (never read as rich markup), and errors in the CLI's words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

import modelyard
from modelyard.cli import main

SPEC = """
model = "cancer"
dataset = "cancer@latest"
target = "target"
[[pipeline]]
class = "sklearn.preprocessing.StandardScaler"
[[pipeline]]
class = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 3000 }
[evaluation]
cv = 2
[tune.params]
logisticregression__C = { low = 0.01, high = 10.0, log = true }
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``modelyard ARGS`` through the entry point's function; (exit code, out, err)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project with cancer@1 ingested and a tuned model cancer/versions/1 as champion."""
    root = tmp_path_factory.mktemp("cli-output")
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    frame.to_csv(root / "cancer.csv", index=False)
    (root / "spec.toml").write_text(SPEC)
    at = ["-C", str(root)]
    main(["init", *at])
    main(["ingest", str(root / "cancer.csv"), "--name", "cancer", "--description",
          "[draft] cells [loop.cancer]", *at])
    main(["train", str(root / "spec.toml"), "--tune", "2", "--alias", "champion", *at])
    yield root


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def as_json(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> object:
    code, out, err = cli(capsys, *args, "--json", "-C", str(project))
    assert code == 0, err
    assert "\x1b[" not in out  # no colour codes in what a script parses
    return json.loads(out)


def test_every_list_and_show_command_prints_json(
    project: Path, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    with modelyard.open(project) as yard:
        version = yard.models.get("cancer@champion")
        run_id = version.run_id
        yard.store.keys.create("read", name="dashboard", scope="cancer*", rate_per_s=5)
    assert run_id is not None

    runs = as_json(capsys, project, "runs", "list")
    assert isinstance(runs, list)
    parent = next(r for r in runs if r["id"] == run_id)
    assert parent["status"] == "finished" and parent["name"] == "train-cancer"
    assert parent["start_time"].endswith("+00:00") and parent["metrics"]["roc_auc"] > 0.9
    assert sum(r["parent_id"] == run_id for r in runs) == 2  # the two trials
    code, table, _ = cli(capsys, "runs", "list", "-C", str(project))
    assert code == 0 and all(r["id"][:12] in table for r in runs)  # same runs as the table

    finished = as_json(capsys, project, "runs", "list", "--status", "finished")
    assert {r["id"] for r in finished} == {r["id"] for r in runs}

    shown = as_json(capsys, project, "runs", "show", run_id[:8])
    assert isinstance(shown, dict) and shown["id"] == run_id
    assert shown["params"]["target"] == "target"
    tuned = shown["params"]["best.logisticregression__C"]
    assert shown["fitted_params"]["param.logisticregression__C"] == tuned
    assert {"dataset": "cancer@1", "role": "train"} in shown["inputs"]

    history = as_json(capsys, project, "runs", "metric", run_id, "roc_auc")
    assert isinstance(history, list) and history[-1]["value"] == parent["metrics"]["roc_auc"]

    datasets = as_json(capsys, project, "datasets", "list")
    assert datasets == [{"name": "cancer", "latest_version": 1,
                         "description": "[draft] cells [loop.cancer]",
                         "created_at": datasets[0]["created_at"]}]  # type: ignore[index]
    versions = as_json(capsys, project, "datasets", "versions", "cancer")
    assert isinstance(versions, list) and versions[0]["ref"] == "cancer@1"
    assert versions[0]["n_rows"] == 569
    dataset = as_json(capsys, project, "datasets", "show", "cancer@1")
    assert isinstance(dataset, dict) and run_id in dataset["used_by_runs"]
    columns = {c["name"]: c for c in dataset["schema"]["columns"]}
    assert len(columns) == 31 and columns["mean_radius"]["type"] == "float"

    models = as_json(capsys, project, "models", "list")
    assert isinstance(models, list) and models[0]["aliases"] == {"champion": 1}
    mversions = as_json(capsys, project, "models", "versions", "cancer")
    assert isinstance(mversions, list) and mversions[0]["run_id"] == run_id
    assert mversions[0]["primary_metric"] == "roc_auc"
    model = as_json(capsys, project, "models", "show", "cancer@champion")
    assert isinstance(model, dict) and model["sha256"] == version.blob_sha256
    assert model["lineage"]["target"] == "target"
    assert model["signature"]["inputs"][0]["name"] == "mean_radius"
    moves = as_json(capsys, project, "models", "history", "cancer")
    assert isinstance(moves, list) and moves[0]["alias"] == "champion"
    assert moves[0]["to_version"] == 1

    keys = as_json(capsys, project, "keys", "list")
    assert isinstance(keys, list) and keys[0]["role"] == "read"
    assert keys[0]["name"] == "dashboard" and keys[0]["revoked_at"] is None
    assert keys[0]["scope"] == "cancer*" and keys[0]["rate_per_s"] == 5


def test_data_is_shown_as_it_is_not_read_as_markup(
    project: Path, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    code, out, _ = cli(capsys, "datasets", "list", "-C", str(project))
    assert code == 0 and "[draft] cells [loop.cancer]" in out
    with modelyard.open(project) as yard, yard.run("[bold]probe[/]", experiment="x") as run:
        run.log_params({"note": "[red]kept[/]"})
    code, out, _ = cli(capsys, "runs", "show", run.id, "-C", str(project))
    assert code == 0 and "[bold]probe[/]" in out and "[red]kept[/]" in out


def test_runs_show_gives_the_params_the_model_was_fitted_with(
    project: Path, capsys: pytest.CaptureFixture[str], wide: None
) -> None:
    # A run logged as training did before it logged param.* after tuning: defaults there,
    # the tuned values only under best.*.
    with modelyard.open(project) as yard, yard.run("old-tuned", experiment="x") as run:
        run.log_params({"param.learning_rate": 0.1, "param.max_iter": 200,
                        "best.model__learning_rate": 0.088})
    code, out, _ = cli(capsys, "runs", "show", run.id, "-C", str(project))
    assert code == 0
    line = next(x for x in out.splitlines() if "param.learning_rate" in x)
    assert "0.088" in line and "tuned (logged 0.1)" in line
    assert "best.model__learning_rate" not in out  # folded into the param it set
    assert "as fitted" in out
    shown = as_json(capsys, project, "runs", "show", run.id)
    assert isinstance(shown, dict)
    assert shown["fitted_params"] == {"param.learning_rate": "0.088", "param.max_iter": "200"}
    assert shown["params"]["param.learning_rate"] == "0.1"  # what was logged stays there


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_predict_writes_every_prediction_beside_its_row_id(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    rows = pd.read_csv(project / "cancer.csv").sample(40, random_state=3)
    rows.insert(0, "patient", [f"p{i}" for i in range(40)])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out_file = tmp_path / f"predictions{suffix}"
    code, out, err = cli(capsys, "models", "predict", "cancer@champion", "-i",
                         str(tmp_path / "rows.csv"), "--proba", "--id-column", "patient",
                         "-o", str(out_file), "-C", str(project))
    assert code == 0, err
    assert f"wrote 40 predictions by cancer/versions/1 to {out_file} ({suffix[1:]})" in out
    written = {".csv": pd.read_csv, ".parquet": pd.read_parquet,
               ".json": lambda p: pd.DataFrame(json.loads(p.read_text()))}[suffix](out_file)
    assert list(written.columns) == ["patient", "prediction", "proba_0", "proba_1"]
    with modelyard.open(project) as yard:
        predictor = yard.models.load("cancer@champion")
        features = rows.drop(columns=["patient", "target"])
        expected = predictor.predict(features)
        proba = predictor.predict_proba(features)
    assert written["patient"].tolist() == rows["patient"].tolist()
    assert written["prediction"].tolist() == expected.tolist()
    assert written["proba_1"].to_numpy() == pytest.approx(proba[:, 1])


def test_predict_refuses_an_output_it_cannot_write(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pd.read_csv(project / "cancer.csv").head(3).to_csv(tmp_path / "rows.csv", index=False)
    base = ["models", "predict", "cancer@champion", "-i", str(tmp_path / "rows.csv"),
            "-C", str(project)]
    code, _, err = cli(capsys, *base, "-o", str(tmp_path / "out.txt"))
    assert code == 2 and "'.txt'" in err and ".csv, .json or .parquet" in err
    code, _, err = cli(capsys, *base, "-o", str(tmp_path / "nowhere" / "out.csv"))
    assert code == 2 and "does not exist" in err
    code, _, err = cli(capsys, *base, "-o", str(tmp_path / "out.txt"), "--output-format", "xml")
    assert code == 2 and "csv" in err and "parquet" in err
    code, _, err = cli(capsys, *base, "--id-column", "nope")
    assert code == 2 and "'nope'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]  # nothing written


def test_deleting_an_aliased_version_names_the_flag(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "models", "delete", "cancer/versions/1", "-C", str(project))
    assert code == 5
    assert "aliased as champion" in err and "--force" in err and "force=True" not in err
    assert "modelyard models alias cancer champion VERSION" in err
    with modelyard.open(project) as yard:
        assert yard.models.get("cancer@champion").version == 1  # nothing deleted
