"""Data and specs shared by the Ray tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd


def make_rows(n: int, *, seed: int = 0) -> pd.DataFrame:
    """Numbers, a category and a label that depends on both."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"amount": rng.normal(size=n), "age": rng.normal(size=n),
                          "channel": rng.choice(["web", "shop", "phone"], size=n)})
    frame["fraud"] = ((frame["amount"] + (frame["channel"] == "web")
                       + rng.normal(scale=0.5, size=n)) > 0.8).astype(np.int64)
    return frame


def tuned_spec(trials: int, **extra: object) -> dict[str, object]:
    """A small forest tuned over its size and depth, 2-fold."""
    return {"model": "fraud", "dataset": "tx@latest", "target": "fraud",
            "estimator": {"class": "sklearn.ensemble.RandomForestClassifier",
                          "params": {"random_state": 0}},
            "tune": {"trials": trials, "cv": 2, "params": {
                "n_estimators": {"low": 20, "high": 60},
                "max_depth": {"low": 2, "high": 8}}}, **extra}


def processes_mentioning(text: str) -> list[int]:
    """The pids whose command line contains ``text`` (our cluster's own temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        if text in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found
