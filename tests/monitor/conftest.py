"""Fixtures of the monitoring tests (see ``_scenario.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _scenario import FEATURES, Receiver, Scenario, make_frame
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import modelyard


@pytest.fixture
def scenario(yard: modelyard.Yard, tmp_path: Path) -> Scenario:
    train = make_frame(np.random.default_rng(0), 4000)
    version = yard.datasets.ingest(train, name="fraud-data")
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["colour"]),
                                remainder="passthrough"),
        LogisticRegression(max_iter=200)).fit(train[FEATURES], train["y"])
    accuracy = float((model.predict(train[FEATURES]) == train["y"]).mean())
    registered = yard.models.register(
        "fraud", model, dataset_version=version, input_example=train[FEATURES].head(20),
        metrics={"accuracy": accuracy}, extra={"task": "classification", "target": "y"})
    yard.models.alias("fraud", "champion", registered.version)
    return Scenario(yard, tmp_path / "predictions", model)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
