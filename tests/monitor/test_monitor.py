"""Monitoring end to end on a real Parquet log and real feedback: windows, drift named,
quality with label delay and late labels, service health, stored trends, alert incidents
de-duplicated and resolved, posted to a real local webhook receiver."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _scenario import HOUR, T0, Receiver, Scenario

from modelyard.errors import InvalidInput, NotFound


def test_hourly_windows_find_the_shift_and_name_the_feature(scenario: Scenario) -> None:
    scenario.log(T0, 40)
    scenario.log(T0 + HOUR, 40, shift=1.5)
    scenario.log(T0 + 2 * HOUR, 40)
    report = scenario.yard.monitor.check("fraud", window="hourly", log_root=scenario.root,
                                         alerts=False)
    assert [w.start for w in report.windows] == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert [w.drift.drifted for w in report.windows] == [(), ("x2",), ()]
    first = report.windows[0]
    assert first.n_predictions == 200 and first.health.requests == 40
    assert first.health.requests_per_s == pytest.approx(40 / HOUR)
    assert first.health.latency_p99_ms == pytest.approx(5.0, rel=0.03)
    assert first.health.error_rate is None and first.health.errors_source == "none"
    assert first.versions == {"1": 200} and first.complete
    # one version: the window's prediction drift and quality are that version's own
    assert first.reference_version == 1 and list(first.by_version) == ["1"]
    assert first.by_version["1"].prediction_drift == first.prediction_drift
    assert (first.by_version["1"].served, first.by_version["1"].shadow) == (200, 0)
    assert report.reference.startswith("dataset fraud-data@1")
    assert {f.name for f in first.prediction_drift.features} == {"prediction", "score"}
    # every window is stored, and a second pass replaces rather than duplicates them
    scenario.yard.monitor.check("fraud", window="hourly", log_root=scenario.root,
                                alerts=False)
    stored = scenario.yard.monitor.windows("fraud", window="hourly")
    assert [w.start for w in stored] == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert stored[1].drift.drifted == ("x2",)


def test_reference_profile_is_computed_once_and_stored(scenario: Scenario) -> None:
    first = scenario.yard.monitor.profile("fraud@champion")
    again = scenario.yard.monitor.profile("fraud@champion")
    assert again.created_at == first.created_at and first.n_rows == 4000
    assert set(first.features) == {"x0", "x1", "x2", "x3", "colour"}
    assert first.classes == (0, 1) and first.task == "classification"


def test_last_n_window_and_reference_window(scenario: Scenario) -> None:
    scenario.log(T0, 40)
    scenario.log(T0 + HOUR, 40, shift=1.5)
    monitor = scenario.yard.monitor
    last = monitor.check("fraud", window="last:50", log_root=scenario.root, alerts=False)
    assert len(last.windows) == 1 and last.windows[0].n_predictions == 50
    assert last.windows[0].drift.drifted == ("x2",)
    # compared with the drifted hour itself, the drifted hour is stable
    ref = f"window:{T0 + HOUR}/{T0 + 2 * HOUR}"
    same = monitor.check("fraud", window="hourly", since=T0 + HOUR, reference=ref,
                         log_root=scenario.root, alerts=False)
    assert same.windows[0].drift.drifted == () and same.reference.startswith("log window")


def test_accuracy_counts_labelled_rows_only_and_picks_up_late_labels(
        scenario: Scenario) -> None:
    good = scenario.log(T0, 40)
    bad = scenario.log(T0 + HOUR, 40, flip=True)
    scenario.label(good[:100])  # half the first hour labelled so far
    monitor = scenario.yard.monitor
    report = monitor.check("fraud", window="hourly", log_root=scenario.root, alerts=False)
    perf0, perf1 = report.windows[0].performance, report.windows[1].performance
    assert perf0.n_labelled == 100 and perf0.coverage == pytest.approx(0.5)
    assert perf0.metrics["accuracy"] > 0.75 and {"precision", "recall", "f1", "roc_auc"} <= \
        set(perf0.metrics)
    assert perf0.baseline["accuracy"] > 0.75
    expected_delay = time.time() - (T0 + HOUR / 2)
    assert perf0.label_delay_p50_s == pytest.approx(expected_delay, rel=0.01)
    assert perf1.n_labelled == 0 and perf1.metrics == {} and perf1.coverage == 0
    # labels arrive late: evaluating the same windows again picks them up
    scenario.label(good[100:] + bad)
    again = monitor.check("fraud", window="hourly", log_root=scenario.root, alerts=False)
    assert again.windows[0].performance.n_labelled == 200
    assert again.windows[1].performance.coverage == 1.0
    assert again.windows[1].performance.metrics["accuracy"] < 0.25
    stored = monitor.windows("fraud")
    assert [w.performance.n_labelled for w in stored] == [200, 200]


def test_alerts_open_once_per_incident_and_resolve(scenario: Scenario,
                                                   receiver: Receiver) -> None:
    monitor = scenario.yard.monitor
    scenario.label(scenario.log(T0, 40))
    scenario.label(scenario.log(T0 + HOUR, 40, shift=1.5, latency_ms=150.0, flip=True))
    scenario.label(scenario.log(T0 + 2 * HOUR, 40, shift=1.5, latency_ms=160.0, flip=True))
    report = monitor.check("fraud", window="hourly", log_root=scenario.root,
                           webhook_url=receiver.url)
    opened = {(e.alert.rule, e.alert.subject) for e in report.events
              if e.event == "alert.opened"}
    assert opened >= {("feature_psi>0.2", "x2"), ("latency_p99_ms>100", "latency_p99_ms"),
                      ("accuracy_drop>0.05", "accuracy")}
    assert all(e.event == "alert.opened" for e in report.events)  # two bad windows: one each
    assert all(e.delivered for e in report.events)
    assert len(receiver.bodies) == len(report.events)
    x2 = next(a for a in report.open_alerts if a.subject == "x2")
    assert x2.opened_at == T0 + 2 * HOUR and x2.last_seen_at == T0 + 3 * HOUR
    # the same windows again: nothing new, nothing posted
    assert monitor.check("fraud", window="hourly", log_root=scenario.root,
                         webhook_url=receiver.url).events == ()
    assert len(receiver.bodies) == len(report.events)
    # a good hour clears them: each incident resolves once
    scenario.label(scenario.log(T0 + 3 * HOUR, 40))
    cleared = monitor.check("fraud", window="hourly", since=T0 + 3 * HOUR,
                            log_root=scenario.root, webhook_url=receiver.url)
    assert {(e.alert.rule, e.alert.subject) for e in cleared.events} >= opened
    assert all(e.event == "alert.resolved" and e.alert.resolved_at == T0 + 4 * HOUR
               for e in cleared.events)
    assert monitor.alerts("fraud", status="open") == [] and cleared.open_alerts == ()
    assert [b["event"] for b in receiver.bodies].count("alert.resolved") == len(cleared.events)
    assert {b["alert"]["subject"] for b in receiver.bodies} >= {"x2", "accuracy"}
    # re-evaluating an old bad window never re-opens a resolved incident
    assert monitor.check("fraud", window="hourly", until=T0 + 2 * HOUR,
                         log_root=scenario.root).events == ()


def test_quality_alerts_wait_for_enough_labels(scenario: Scenario) -> None:
    truth = scenario.log(T0, 40, flip=True)
    scenario.label(truth[:10])  # 10 labelled rows < monitor_min_labelled_rows (30)
    report = scenario.yard.monitor.check("fraud", window="hourly", log_root=scenario.root,
                                         rules=["accuracy_drop>0.05"])
    assert report.windows[0].performance.n_labelled == 10 and report.events == ()


def test_bad_arguments_are_named(scenario: Scenario) -> None:
    monitor = scenario.yard.monitor
    with pytest.raises(InvalidInput, match="last:N"):
        monitor.check("fraud", window="weekly")
    with pytest.raises(InvalidInput, match="MEASURE>THRESHOLD"):
        monitor.check("fraud", rules=["psi above 3"], log_root=scenario.root)
    with pytest.raises(InvalidInput, match="unknown alert measure"):
        monitor.check("fraud", rules=["psi>3"], log_root=scenario.root)
    with pytest.raises(NotFound):
        monitor.check("nope")
    with pytest.raises(InvalidInput, match="'open' or 'resolved'"):
        monitor.alerts("fraud", status="closed")
    assert monitor.check("fraud", log_root=scenario.root).windows == ()


def test_html_report_is_self_contained_with_charts(scenario: Scenario, tmp_path: Path) -> None:
    scenario.label(scenario.log(T0, 40))
    scenario.label(scenario.log(T0 + HOUR, 40, shift=1.5, latency_ms=150.0))
    monitor = scenario.yard.monitor
    report = monitor.check("fraud", window="hourly", log_root=scenario.root)
    path = monitor.write_html(report, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert "<h3>x2 (psi, ks)</h3><svg" in html.replace("\n", "")
    assert html.count("<svg") >= 4 and "<polyline" in html  # histograms and trends
    assert "latency_p99_ms&gt;100" in html or "latency_p99_ms>100" in html
    for remote in ("<script", "<link", "src=\"http", "@import", "url(http"):
        assert remote not in html
    # the same report from what is stored, without reading the log
    stored = monitor.report("fraud", window="hourly")
    assert [w.start for w in stored.windows] == [w.start for w in report.windows]
    assert stored.windows[1].drift.drifted == ("x2",) and len(stored.open_alerts) >= 2


def test_an_alert_keeps_the_value_that_opened_it_and_opens_when_seen(
        scenario: Scenario) -> None:
    monitor = scenario.yard.monitor
    hour = time.time() // HOUR * HOUR  # the hour still running: its window ends later
    scenario.log(hour, 40, shift=1.5)
    before = time.time()
    report = monitor.check("fraud", window="hourly", since=hour, log_root=scenario.root,
                           rules=["feature_psi>0.2"])
    x2 = next(a for a in report.open_alerts if a.subject == "x2")
    assert before <= x2.opened_at <= time.time() < hour + HOUR  # not the window's planned end
    opened_with = x2.value
    assert opened_with is not None and opened_with > 0.2
    scenario.log(hour + HOUR, 40)  # a calm hour resolves it
    monitor.check("fraud", window="hourly", since=hour + HOUR, log_root=scenario.root,
                  rules=["feature_psi>0.2"])
    resolved = next(a for a in monitor.alerts("fraud") if a.id == x2.id)
    assert resolved.status == "resolved" and resolved.value == opened_with
    assert "back to" in resolved.message


def test_a_what_if_reference_stores_nothing_and_opens_no_alert(scenario: Scenario) -> None:
    scenario.log(T0, 40)
    scenario.log(T0 + HOUR, 40, shift=1.5)
    monitor = scenario.yard.monitor
    what_if = monitor.check("fraud", window="hourly", log_root=scenario.root,
                            reference=f"window:{T0 + HOUR}/{T0 + 2 * HOUR}")
    assert what_if.windows[0].drift.drifted == ("x2",) and what_if.events == ()
    assert monitor.windows("fraud") == [] and monitor.alerts("fraud") == []
    # the standard comparison (the champion's training data) stores and alerts as before
    standard = monitor.check("fraud", window="hourly", log_root=scenario.root)
    assert len(monitor.windows("fraud")) == 2 and standard.events
