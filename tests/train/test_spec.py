"""Training specs: every way of writing one, and a clear error for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.errors import InvalidInput
from modelyard.train import TrainSpec, load_spec
from modelyard.train._estimator import build_estimator

TOML = """
model = "cancer"
dataset = "cancer@2"
target = "malignant"
aliases = ["challenger"]

[estimator]
class = "sklearn.ensemble.HistGradientBoostingClassifier"
params = { max_iter = 50 }

[evaluation]
test_size = 0.3
cv = 3
metrics = ["roc_auc", "f1"]

[tune]
trials = 4
[tune.params]
learning_rate = { low = 0.01, high = 0.3, log = true }
"""


def test_toml_yaml_and_python_specs_read_the_same(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(TOML)
    spec = load_spec(toml)
    assert spec.model == "cancer" and spec.dataset == "cancer@2" and spec.cv == 3
    assert spec.estimator[0].cls.endswith("HistGradientBoostingClassifier")
    assert spec.tune.trials == 4 and "learning_rate" in spec.tune.params
    assert spec.metrics == ("roc_auc", "f1") and spec.aliases == ("challenger",)

    yaml = tmp_path / "s.yaml"
    yaml.write_text(
        "model: cancer\ndataset: cancer@2\ntarget: malignant\n"
        "pipeline:\n  - class: sklearn.preprocessing.StandardScaler\n"
        "  - class: sklearn.linear_model.LogisticRegression\n    params: {C: 0.5}\n"
    )
    piped = load_spec(yaml)
    model = build_estimator(piped.estimator)
    assert [type(s).__name__ for _, s in model.steps] == ["StandardScaler", "LogisticRegression"]
    assert model.steps[-1][1].C == 0.5

    py = tmp_path / "s.py"
    py.write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "SPEC = {'model': 'm', 'dataset': 'd', 'target': 't',"
        " 'estimator': LogisticRegression(C=3.0)}\n"
    )
    from_py = load_spec(py)
    assert isinstance(build_estimator(from_py.estimator), LogisticRegression)
    assert build_estimator(from_py.estimator).C == 3.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dataset": "d", "target": "t", "estimator": "x.Y"}, "needs 'model'"),
        ({"model": "m", "dataset": "d", "target": "t"}, "needs an 'estimator'"),
        ({"model": "m", "dataset": "d", "target": "t", "estimator": "x.Y", "lr": 1},
         "unknown key lr"),
        ({"model": "bad name!", "dataset": "d", "target": "t", "estimator": "x.Y"},
         "model name"),
        ({"model": "m", "dataset": "d", "target": "t", "estimator": "x.Y", "task": "cluster"},
         "'task' must be one of"),
        ({"model": "m", "dataset": "d", "target": "t", "estimator": "x.Y",
          "evaluation": {"test_size": 2}}, r"test_size.*must be in"),
        ({"model": "m", "dataset": "d", "target": "t", "estimator": {"params": {}}},
         "must have 'class'"),
        ({"model": "m", "dataset": "d", "target": "t", "estimator": "x.Y",
          "tune": {"trials": 2, "params": {"C": {"low": 1}}}}, "needs low and high"),
    ],
)
def test_bad_specs_say_what_is_wrong(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_spec(raw)


def test_bad_files_and_estimators_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(InvalidInput, match=r"\.toml, \.yaml"):
        load_spec(tmp_path / "s.json")
    (tmp_path / "s.toml").write_text("model = ")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_spec(tmp_path / "s.toml")
    (tmp_path / "s.yaml").write_text("model: [unclosed")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_spec(tmp_path / "s.yaml")
    spec = load_spec({"model": "m", "dataset": "d", "target": "t",
                      "estimator": "sklearn.linear_model.LogisticRegresion"})
    with pytest.raises(InvalidInput, match="has no 'LogisticRegresion'"):
        build_estimator(spec.estimator)
    spec = load_spec({"model": "m", "dataset": "d", "target": "t",
                      "estimator": "nosuchpkg.Model"})
    with pytest.raises(InvalidInput, match="not installed"):
        build_estimator(spec.estimator)
    spec = load_spec({"model": "m", "dataset": "d", "target": "t",
                      "estimator": {"class": "sklearn.linear_model.LogisticRegression",
                                    "params": {"colour": "red"}}})
    with pytest.raises(InvalidInput, match="bad parameters"):
        build_estimator(spec.estimator)
    assert isinstance(load_spec(spec), TrainSpec)
