"""Windows that mix model versions, on a real yard and a real Parquet log: each version's
predictions and labelled rows are judged against its own reference, alerts read the
reference version's rows, and a rollout's shadow rows are not served traffic.

The world: v1 was trained when positives were common; the rule that makes a positive then
changed (same inputs, fewer positives) and v3, trained on the new labels, was promoted. The
hour after the promotion holds rows v1 answered and rows v3 answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _scenario import FEATURES, HOUR, T0, Scenario, make_frame
from rich.console import Console
from sklearn.base import clone

from modelyard.monitor import (
    LogSchema,
    PredictionLog,
    WindowResult,
    compute_drift,
    read_prediction_log,
)
from modelyard.monitor._report import print_report, version_rows

INPUTS = (("x0", "float"), ("x1", "float"), ("x2", "float"), ("x3", "float"),
          ("colour", "string"))
ROWS = 5  # rows per request


def new_world(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> pd.DataFrame:
    """The same inputs as before; positive only well above the old boundary."""
    frame = make_frame(rng, n, shift=0.0)
    frame["x0"] += shift
    logit = 1.5 * frame["x0"] - frame["x1"] + (frame["colour"] == "red") * 0.5
    frame["y"] = (logit + rng.normal(scale=0.5, size=n) > 2.5).astype(np.int64)
    return frame


@dataclass
class Promoted:
    scenario: Scenario
    v1: Any
    v3: Any
    rng: np.random.Generator

    def log(self, version: int, frame: pd.DataFrame, start: float, *,
            alias: str = "champion", ids: list[str] | None = None,
            latency_ms: float = 5.0) -> list[tuple[str, int, int]]:
        """Log ``version``'s answers to ``frame`` spread over the hour from ``start``;
        returns the true ``(request_id, row, label)`` of every row."""
        model = self.v1 if version == 1 else self.v3
        schema = LogSchema("fraud", version, INPUTS, "integer", (0, 1))
        proba = model.predict_proba(frame[FEATURES])
        pred = proba.argmax(axis=1)
        n_requests = len(frame) // ROWS
        ids = ids or [uuid.uuid4().hex for _ in range(n_requests)]
        log = PredictionLog(self.scenario.root)
        truth: list[tuple[str, int, int]] = []
        for r, request_id in enumerate(ids):
            part = slice(r * ROWS, (r + 1) * ROWS)
            log.append(schema, request_id, frame[FEATURES].iloc[part].to_dict(orient="records"),
                       pred[part], proba[part], alias=alias, latency_ms=latency_ms,
                       ts=start + (r + 0.5) * HOUR / n_requests)
            truth += [(request_id, i, int(y)) for i, y in enumerate(frame["y"].iloc[part])]
        log.close()
        return truth

    def check(self, **kwargs: Any) -> Any:
        return self.scenario.yard.monitor.check("fraud", window="hourly",
                                                log_root=self.scenario.root, **kwargs)


@pytest.fixture
def promoted(scenario: Scenario) -> Promoted:
    """v1 (the scenario's) and v3 trained on the new world's labels, v3 the champion."""
    yard, rng = scenario.yard, np.random.default_rng(7)
    train = new_world(rng, 4000)
    data = yard.datasets.ingest(train, name="fraud-data")
    v3 = clone(scenario.model).fit(train[FEATURES], train["y"])
    accuracy = float((v3.predict(train[FEATURES]) == train["y"]).mean())
    extra = {"task": "classification", "target": "y"}
    # v2: a challenger the gate rejected; never served
    yard.models.register("fraud", v3, dataset_version=data, input_example=train[FEATURES]
                         .head(20), metrics={"accuracy": accuracy}, extra=extra)
    registered = yard.models.register(
        "fraud", v3, dataset_version=data, input_example=train[FEATURES].head(20),
        metrics={"accuracy": accuracy}, extra=extra)
    assert registered.version == 3
    yard.models.alias("fraud", "champion", 3)
    return Promoted(scenario, scenario.model, v3, rng)


def test_the_hour_after_a_promotion_is_judged_per_version(promoted: Promoted) -> None:
    # the hour of the promotion: v1 answered 300 rows, then v3 answered 300 (same inputs)
    truth = promoted.log(1, new_world(promoted.rng, 300), T0)
    truth += promoted.log(3, new_world(promoted.rng, 300), T0)
    promoted.scenario.label(truth)
    report = promoted.check()
    window = report.latest
    assert window is not None and window.versions == {"1": 300, "3": 300}
    assert window.reference_version == 3 and window.reference.startswith("dataset fraud-data@2")
    # no spurious prediction drift or quality drop: each version matches its own reference
    assert [e.alert.rule for e in report.events] == []
    assert report.open_alerts == () and window.drift.drifted == ()
    v1, v3 = window.by_version["1"], window.by_version["3"]
    assert v1.reference.startswith("dataset fraud-data@1") and v1.served == 300
    for entry in (v1, v3):
        assert {f.name for f in entry.prediction_drift.features} == {"prediction", "score"}
        assert all(f.n == 300 and f.psi is not None and f.psi < 0.1
                   for f in entry.prediction_drift.features)
    assert window.prediction_drift == v3.prediction_drift
    # quality: each version's own labelled rows, against its own registered accuracy
    assert window.performance == v3.performance and v3.performance.n_labelled == 300
    assert v3.performance.metrics["accuracy"] > 0.85
    assert v3.performance.baseline["accuracy"] == pytest.approx(
        promoted.scenario.yard.models.get("fraud@3").metrics["accuracy"])
    assert v1.performance.n_labelled == 300
    assert v1.performance.metrics["accuracy"] < v1.performance.baseline["accuracy"] - 0.1
    # all rows against v3's reference predictions, as one mix: what used to alert
    logged = read_prediction_log(promoted.scenario.root, "fraud")
    mixed = compute_drift(promoted.scenario.yard.monitor.profile("fraud@3").predictions,
                          {"prediction": logged.column("prediction"),
                           "score": logged.column("proba.1")})
    assert mixed["prediction"].psi > 0.2 and mixed["score"].psi > 0.2
    # stored and read back with its versions
    stored = promoted.scenario.yard.monitor.windows("fraud")[-1]
    assert stored.by_version["1"] == v1 and stored.reference_version == 3


def test_a_shift_in_the_reference_versions_predictions_alerts(promoted: Promoted) -> None:
    promoted.log(1, new_world(promoted.rng, 300), T0)
    promoted.log(3, new_world(promoted.rng, 300, shift=1.0), T0)  # v3 now says yes often
    report = promoted.check(rules=["prediction_psi>0.2"])
    opened = {e.alert.subject for e in report.events if e.event == "alert.opened"}
    assert opened == {"prediction", "score"}
    window = report.latest
    assert window is not None
    assert window.prediction_drift["prediction"].psi > 0.2
    assert window.by_version["1"].prediction_drift["prediction"].psi < 0.1


def test_a_shift_in_another_versions_predictions_is_shown_not_alerted(
        promoted: Promoted) -> None:
    promoted.log(1, new_world(promoted.rng, 300, shift=1.0), T0)
    promoted.log(3, new_world(promoted.rng, 300), T0)
    report = promoted.check(rules=["prediction_psi>0.2"])
    assert report.events == ()
    window = report.latest
    assert window is not None
    assert window.by_version["1"].prediction_drift.drifted == ("prediction", "score")
    assert window.prediction_drift.drifted == ()
    # the report shows every version's rows, the reference version's first
    rows = version_rows(window)
    assert [(r["version"], r["role"], r["drifted"]) for r in rows] == [
        ("v3", "reference", "no"), ("v1", "served", "prediction, score")]
    html = promoted.scenario.yard.monitor.html(report)
    assert "Latest window: versions" in html and "v1 300, v3 300" in html
    console = Console(record=True, width=240)
    print_report(report, console)
    text = console.export_text()
    assert "versions (each against its own reference" in text
    assert "dataset fraud-data@1" in text and "prediction, score" in text


def test_shadow_rows_are_not_served_traffic(promoted: Promoted) -> None:
    # a rollout's shadow stage: v3 answers, v1 (the challenger here) predicts the same rows
    world = new_world(promoted.rng, 400)
    truth = promoted.log(3, world, T0)
    ids = list(dict.fromkeys(request_id for request_id, _, _ in truth))
    promoted.log(1, world, T0, alias="shadow", ids=ids, latency_ms=400.0)
    promoted.scenario.label(truth)
    report = promoted.check()
    window = report.latest
    assert window is not None
    assert window.versions == {"3": 400} and window.n_predictions == 400
    assert window.health.requests == 80 and window.health.latency_p99_ms == pytest.approx(
        5.0, rel=0.03)
    assert all(f.n == 400 for f in window.drift.features)
    assert window.performance.n_labelled == 400 and window.performance.coverage == 1.0
    shadow = window.by_version["1"]
    assert (shadow.served, shadow.shadow) == (0, 400)
    assert shadow.performance.n_labelled == 400
    assert shadow.performance.metrics["accuracy"] < window.performance.metrics["accuracy"]
    assert not [e for e in report.events if "latency" in e.alert.rule]


def test_versions_without_a_reference_are_counted_not_compared(promoted: Promoted) -> None:
    yard = promoted.scenario.yard
    frame = new_world(promoted.rng, 100)
    bare = yard.models.register("fraud", promoted.v3, input_example=frame[FEATURES].head(5),
                                extra={"task": "classification"})
    assert bare.version == 4
    promoted.log(3, frame, T0)
    schema = LogSchema("fraud", bare.version, INPUTS, "integer", (0, 1))
    gone = LogSchema("fraud", 9, INPUTS, "integer", (0, 1))
    log = PredictionLog(promoted.scenario.root)
    records = frame[FEATURES].head(ROWS).to_dict(orient="records")
    log.append(schema, "a", records, np.zeros(ROWS, dtype=np.int64), np.full((ROWS, 2), 0.5),
               ts=T0 + 10)
    log.append(gone, "b", records, np.zeros(ROWS, dtype=np.int64), np.full((ROWS, 2), 0.5),
               ts=T0 + 20)
    log.close()
    window = promoted.check(alerts=False).latest
    assert window is not None and window.versions == {"3": 100, "4": 5, "9": 5}
    assert window.by_version["4"].reference.startswith("no reference: fraud")
    assert "without a dataset version" in window.by_version["4"].reference
    assert window.by_version["9"].reference == \
        "no reference: version 9 of 'fraud' is not in the registry"
    assert window.by_version["9"].prediction_drift.features == ()


def test_windows_stored_before_versions_were_told_apart_still_read(
        promoted: Promoted) -> None:
    promoted.log(1, new_world(promoted.rng, 100), T0)
    window = promoted.check(alerts=False).latest
    assert window is not None
    old = window.to_dict()
    del old["by_version"], old["reference_version"]
    repo = promoted.scenario.yard.store.monitoring
    repo.save_window("fraud", 1, T0 + HOUR, T0 + 2 * HOUR, 100, 0,
                     {**old, "start": T0 + HOUR, "end": T0 + 2 * HOUR})
    stored = promoted.scenario.yard.monitor.windows("fraud")
    assert [w.start for w in stored] == [T0, T0 + HOUR]
    assert stored[1].by_version == {} and stored[1].reference_version is None
    assert stored[1].prediction_drift == window.prediction_drift
    assert WindowResult.from_dict(window.to_dict()) == window
    report = promoted.scenario.yard.monitor.report("fraud")
    assert "<html" in promoted.scenario.yard.monitor.html(report)


def test_a_log_window_reference_holds_the_reference_versions_predictions(
        promoted: Promoted) -> None:
    # the reference hour mixes v1's answers (positive-heavy) and v3's; the hour after is v3's
    promoted.log(1, new_world(promoted.rng, 300, shift=1.0), T0)
    promoted.log(3, new_world(promoted.rng, 300), T0)
    promoted.log(3, new_world(promoted.rng, 300), T0 + HOUR)
    report = promoted.check(reference=f"window:{T0}/{T0 + HOUR}", since=T0 + HOUR,
                            rules=["prediction_psi>0.2"])
    window = report.latest
    assert window is not None and window.reference.startswith("log window")
    assert window.prediction_drift["prediction"].n == 300
    assert window.prediction_drift["prediction"].psi < 0.1 and report.events == ()
