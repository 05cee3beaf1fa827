"""One filled project for the dashboard's browser tests, built once per module: real training
runs (a tuning study with trials, runs with metric curves), a loop cycle that retrains and
promotes, a served model with traffic and delayed labels, monitoring windows with a drift
alert opened and resolved, API keys, and a real ``modelyard ui`` process on 127.0.0.1 that
reads the server's metrics. Browsers are Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import modelyard

sys.path.insert(0, str(Path(__file__).parents[1] / "loop"))

from _loopkit import make_champion, make_frame, spec

from _serving import Server, dashboard
from modelyard.loop import GatePolicy, Loop, Policy, RetrainPolicy, TriggerPolicy

CHROMIUM = os.environ.get("MODELYARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).parent / "screenshots"


def _need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        message = (f"no chromium at {CHROMIUM}: run `bash scripts/browser.sh` as root (it "
                   "installs Debian's chromium)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Filled:
    """The filled project and the processes that show it."""

    project: Path
    ui_url: str
    server_url: str
    admin_key: str
    read_key: str
    study_run: str
    curve_runs: list[str]


def _traffic(client: modelyard.Client, *, shift: float, seed: int, rows: int = 300) -> None:
    frame = make_frame(rows, seed=seed, shift=shift)
    for start in range(0, rows, 50):
        part = frame.iloc[start:start + 50]
        answer = client.predict("fraud@champion", part.drop(columns="y"))
        client.feedback("fraud", answer.request_id, [int(v) for v in part["y"]])


def _fill(project: Path) -> dict[str, Any]:
    with modelyard.open(project) as yard:
        make_champion(yard)
        tuned = spec("sklearn.linear_model.LogisticRegression")
        tuned["tune"] = {"params": {"C": {"low": 0.01, "high": 10.0, "log": True}}}
        study = yard.train(tuned, tune_trials=3)
        curves = []
        for name, lr in (("sgd-fast", 0.3), ("sgd-slow", 0.05)):
            with yard.run(name, experiment="curves", tags={"team": "risk"}) as run:
                run.log_params({"lr": lr, "optimizer": "sgd"})
                for step in range(60):
                    run.log_metric("loss", 1.0 / (1.0 + lr * step), step=step)
                    run.log_metric("accuracy", 1.0 - 0.5 / (1.0 + lr * step), step=step)
                curves.append(run.id)
        loop = Loop(yard)
        loop.set_policy(Policy("fraud", triggers=TriggerPolicy(new_data=True),
                               retrain=RetrainPolicy(spec={"estimator": {
                                   "class": "sklearn.linear_model.LogisticRegression",
                                   "params": {}}}),
                               gate=GatePolicy(bootstrap_samples=200)))
        loop.run_once()
        yard.datasets.ingest(make_frame(800, seed=9), name="tx")
        loop.run_once()
        assert yard.models.get("fraud@champion").version == 3, loop.history("fraud")
        _, admin_key = yard.store.keys.create("admin", name="ui tests")
        _, read_key = yard.store.keys.create("read", name="ui tests")
        return {"admin_key": admin_key, "read_key": read_key,
                "study_run": study.run_id, "curve_runs": curves}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """The filled project, its prediction server and its dashboard (``modelyard ui``)."""
    _need_chromium()
    project = tmp_path_factory.mktemp("ui-project")
    facts = _fill(project)
    # parts of the prediction log are sealed (readable by the monitor) every 0.3 s
    with Server(project, ["fraud@champion"], {"MODELYARD_LOG_ROTATE_S": "0.3"}) as server, \
            dashboard(project, "--server-url", server.url, "--sample-interval-s", "0.3",
                      timeout=30) as url:
        with modelyard.Client(server.url, key=facts["admin_key"]) as client, \
                modelyard.open(project) as yard:
            for i, shift in enumerate((0.0, 3.0, 0.0)):
                _traffic(client, shift=shift, seed=20 + i)
                time.sleep(0.8)  # flushed every 0.1 s, sealed every 0.3 s
                report = yard.monitor.check("fraud", window="last:300")
                assert report.windows, "the served predictions never reached the log"
        yield Filled(project=project, ui_url=url, server_url=server.url, **facts)


@pytest.fixture(scope="module")
def browser(filled: Filled) -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    """Where screenshots go (kept with the test output; ignored by git)."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS
