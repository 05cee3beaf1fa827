"""Ray stays optional: importing the CLI or the distributed part imports no Ray, and a
spec or policy that asks for an executor that is not there says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

import modelyard
from modelyard.errors import InvalidInput
from modelyard.loop import Policy, RetrainPolicy
from modelyard.train import load_spec


def test_importing_the_cli_and_the_distributed_part_imports_no_ray() -> None:
    code = ("import sys, modelyard.cli, modelyard.distributed, modelyard.train, "
            "modelyard.loop\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unknown_executor_is_named_in_the_spec_and_the_policy() -> None:
    base = {"model": "m", "dataset": "d@1", "target": "y",
            "estimator": "sklearn.linear_model.LogisticRegression"}
    assert load_spec({**base, "executor": "ray"}).executor == "ray"
    with pytest.raises(InvalidInput, match=r"'executor' must be 'local'.*'spark'"):
        load_spec({**base, "executor": "spark"})
    with pytest.raises(InvalidInput, match=r"retrain.executor is 'spark'"):
        Policy("m", retrain=RetrainPolicy(executor="spark"))


def test_a_ray_spec_without_an_executor_says_how_to_run_it(yard: modelyard.Yard) -> None:
    import pandas as pd

    yard.datasets.ingest(pd.DataFrame({"x": range(40), "y": [0, 1] * 20}), name="d")
    spec = {"model": "m", "dataset": "d@1", "target": "y", "executor": "ray",
            "estimator": "sklearn.linear_model.LogisticRegression", "tune": {"trials": 2}}
    with pytest.raises(InvalidInput, match="modelyard train SPEC"):
        yard.train(spec)
    assert yard.models.list() == []
