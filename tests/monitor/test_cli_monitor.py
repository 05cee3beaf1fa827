"""``modelyard monitor``: through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from _scenario import HOUR, T0, Receiver, Scenario

from modelyard.cli import main


def _cli(capsys: pytest.CaptureFixture[str], scenario: Scenario,
         *args: str) -> tuple[int, str, str]:
    settings = scenario.yard.settings
    common = ["--project", str(settings.project_dir)]
    if settings.db_url:
        common += ["--db-url", settings.db_url]
    try:
        main([*args, *common])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_monitor_model_alerts_and_windows(scenario: Scenario, receiver: Receiver,
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    scenario.label(scenario.log(T0, 40))
    scenario.label(scenario.log(T0 + HOUR, 40, shift=1.5))
    html = tmp_path / "out.html"
    code, out, err = _cli(capsys, scenario, "monitor", "fraud", "--window", "hourly",
                          "--log-dir", str(scenario.root), "--html", str(html),
                          "--webhook", receiver.url)
    assert code == 0, err
    assert "x2" in out and "alert.opened" in out and "open alert" in out
    assert html.is_file() and "<svg" in html.read_text(encoding="utf-8")
    assert {b["alert"]["subject"] for b in receiver.bodies} == {"x2"}

    code, out, _ = _cli(capsys, scenario, "monitor", "alerts", "fraud")
    assert code == 0 and "feature_psi>0.2" in out and "open" in out
    code, out, _ = _cli(capsys, scenario, "monitor", "windows", "fraud", "--window", "hourly")
    assert code == 0 and "2026-01-01" in out
    code, out, _ = _cli(capsys, scenario, "monitor", "check", "fraud", "--window", "last:20",
                        "--log-dir", str(scenario.root), "--no-alerts", "--json")
    assert code == 0 and '"window": "last:20"' in out


def test_monitor_errors_are_one_red_line(scenario: Scenario,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, scenario, "monitor", "fraud", "--window", "weekly")
    assert code == 2 and "last:N" in err and "Traceback" not in err
    code, _, err = _cli(capsys, scenario, "monitor", "nope")
    assert code == 3 and "nope" in err
