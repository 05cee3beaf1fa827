"""The CLI: every command through its real entry point, and one red line per user error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
[tune.params]
logisticregression__C = { low = 0.01, high = 10.0, log = true }
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "220")
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    (tmp_path / "spec.toml").write_text(SPEC)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_whole_cli_flow(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "init")
    assert code == 0 and "ready" in out and (project / "modelyard.toml").exists()

    code, out, _ = cli(capsys, "ingest", "cancer.csv", "--name", "cancer")
    assert code == 0 and "new version" in out and "cancer@1" in out and "569 rows" in out
    code, out, _ = cli(capsys, "ingest", "cancer.csv", "--name", "cancer")
    assert code == 0 and "unchanged" in out and "cancer@1" in out

    code, out, _ = cli(capsys, "datasets", "list")
    assert code == 0 and "cancer" in out
    code, out, _ = cli(capsys, "datasets", "show", "cancer")
    assert code == 0 and "mean_radius" in out and "float" in out

    code, out, _ = cli(capsys, "train", "spec.toml", "--tune", "2", "--alias", "champion")
    assert code == 0, out
    assert "registered cancer/versions/1" in out and "roc_auc" in out and "best params" in out

    code, out, _ = cli(capsys, "models", "list")
    assert code == 0 and "champion->v1" in out
    code, out, _ = cli(capsys, "models", "show", "cancer@champion")
    assert code == 0 and "cancer@1" in out and "mean_radius" in out
    code, out, _ = cli(capsys, "runs", "list")
    assert code == 0 and "train-cancer" in out and "trial-0" in out

    frame = pd.read_csv(project / "cancer.csv").head(4)
    frame.to_csv(project / "rows.csv", index=False)  # the label column is ignored
    frame = frame.drop(columns=["target"])
    code, out, _ = cli(capsys, "models", "predict", "cancer@champion", "-i", "rows.csv",
                       "--proba")
    assert code == 0 and "4 predictions" in out and "p(1)" in out

    frame.drop(columns=["mean_radius"]).to_csv(project / "bad.csv", index=False)
    code, out, err = cli(capsys, "models", "predict", "cancer@champion", "-i", "bad.csv")
    assert code == 2 and "mean_radius" in err and "Traceback" not in err

    code, out, _ = cli(capsys, "models", "versions", "cancer")
    assert code == 0 and "cancer@1" in out
    with modelyard.open(project) as yard:
        run_id = yard.models.get("cancer/versions/1").run_id
    assert run_id is not None and run_id[:12] in out
    code, _, err = cli(capsys, "runs", "delete", run_id[:12])
    assert code == 5 and "cancer" in err

    code, out, _ = cli(capsys, "models", "delete", "cancer/versions/1", "--force")
    assert code == 0
    code, out, _ = cli(capsys, "gc", "--grace-s", "0")
    assert code == 0 and "freed 1" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("ingest", "missing.csv", "--name", "x"), 2, "does not exist"),
        (("ingest", "cancer.csv"), 2, "--name"),
        (("models", "show", "nope"), 3, "no model 'nope'"),
        (("datasets", "show", "nope@3"), 3, "nope"),
        (("train", "missing.toml"), 2, "does not exist"),
        (("runs", "show", "abcdef"), 3, "no run"),
    ],
)
def test_user_errors_are_one_line_and_an_exit_code(
    project: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int,
    message: str,
) -> None:
    got, _, err = cli(capsys, *args)
    assert got == code, err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2


def test_malformed_csv_through_the_installed_entry_point(project: Path) -> None:
    (project / "broken.csv").write_text('a,b\n1,2\n3,4,5,6\n"unclosed\n')
    proc = subprocess.run(
        [sys.executable, "-m", "modelyard", "ingest", "broken.csv", "--name", "b"],
        capture_output=True, text=True, cwd=project, timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_validate_gates_a_pipeline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "ingest", "cancer.csv", "--name", "cancer")[0] == 0
    frame = pd.read_csv(project / "cancer.csv").head(50)
    frame.to_csv(project / "good.csv", index=False)
    code, out, err = cli(capsys, "datasets", "validate", "good.csv", "--against", "cancer@1")
    assert code == 0 and "valid" in out and err == ""

    frame["mean_radius"] = "wide"
    frame.drop(columns=["mean_texture"]).to_csv(project / "bad.csv", index=False)
    code, out, err = cli(capsys, "datasets", "validate", "bad.csv", "--against", "cancer@1")
    assert code == 2
    assert "violations in bad.csv" in out and "mean_radius" in out and "mean_texture" in out
    assert err.startswith("error: bad.csv breaks the schema of cancer@1") and "Traceback" not in err

    code, out, err = cli(capsys, "datasets", "validate", "bad.csv", "-a", "cancer@1", "--json")
    report = json.loads(out)  # stdout stays one JSON document; the red line is on stderr
    assert code == 2 and report["ok"] is False and report["n_rows"] == 50
    assert {v["column"] for v in report["violations"]} == {"mean_radius", "mean_texture"}
    assert "breaks the schema" in err
