from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from modelyard.errors import InvalidInput
from modelyard.loop import Policy, load_policies, parse_cron, policy_from_dict


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_cron_due_and_not_due() -> None:
    cron = parse_cron("30 3 * * *")
    assert cron.due(_ts("2026-01-01T03:00:00"), _ts("2026-01-01T03:30:10"))
    assert not cron.due(_ts("2026-01-01T03:31:00"), _ts("2026-01-01T23:59:00"))
    assert not cron.due(_ts("2026-01-01T03:30:10"), _ts("2026-01-01T03:30:50"))
    weekly = parse_cron("0 0 * * 1")  # Mondays; 2026-01-05 is a Monday
    assert weekly.due(_ts("2026-01-04T12:00:00"), _ts("2026-01-05T00:00:30"))
    assert not weekly.due(_ts("2026-01-05T12:00:00"), _ts("2026-01-06T12:00:00"))
    assert parse_cron("*/15 9-17 * * 1-5").matches(dt.datetime(2026, 1, 5, 9, 45, tzinfo=dt.UTC))


@pytest.mark.parametrize("text", ["* * * *", "61 * * * *", "a * * * *", "*/0 * * * *"])
def test_cron_refuses_bad_expressions(text: str) -> None:
    with pytest.raises(InvalidInput, match="schedule"):
        parse_cron(text)


def test_policies_from_toml(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text(
        'psi_threshold = 0.3\n'
        '[loop.fraud.triggers]\nschedule = "0 3 * * *"\ndrift = true\n'
        'watch_table = { db_url = "sqlite:///x.db", table = "tx", key = "id" }\n'
        '[loop.fraud.gate]\nmargin = 0.01\nfloors = { recall = 0.5 }\n'
        '[loop.fraud.rollout]\nserver_url = "http://127.0.0.1:8000"\ncanary_share = 0.2\n',
        encoding="utf-8")
    policies = load_policies(tmp_path)
    fraud = policies["fraud"]
    assert fraud.triggers.drift and fraud.triggers.schedule == "0 3 * * *"
    assert fraud.gate.margin == 0.01 and fraud.gate.floors == {"recall": 0.5}
    assert fraud.rollout.canary_share == 0.2
    assert fraud.to_dict()["model"] == "fraud"


@pytest.mark.parametrize(("raw", "message"), [
    ({"gate": {"margn": 0.1}}, r"unknown key margn in \[loop.fraud.gate\]"),
    ({"rollout": {"canary_share": 1.5}}, "canary_share"),
    ({"gate": {"test": "t"}}, "gate.test"),
    ({"triggers": {"drift": "yes"}}, r"triggers\].drift"),
    ({"triggers": {"watch_table": {"table": "t"}}}, "db_url"),
    ({"triggers": {"schedule": "every day"}}, "5 fields"),
    ({"retrain": {"tune_trials": 1.5}}, "tune_trials"),
    ({"canary": {}}, "unknown key canary"),
])
def test_bad_policies_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        policy_from_dict("fraud", raw)


def test_sdk_policy_is_validated() -> None:
    from modelyard.loop import GatePolicy

    with pytest.raises(InvalidInput, match="alpha"):
        Policy("fraud", gate=GatePolicy(alpha=0.0))


def test_cron_reads_shortcuts_names_and_both_day_fields_as_cron_does() -> None:
    daily = parse_cron("@daily")
    assert daily.due(_ts("2026-01-01T12:00:00"), _ts("2026-01-02T00:00:05"))
    assert not daily.due(_ts("2026-01-02T00:00:05"), _ts("2026-01-02T23:59:00"))
    weekdays = parse_cron("0 9 * * mon-fri")
    assert weekdays.matches(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))  # a Monday
    assert not weekdays.matches(dt.datetime(2026, 1, 4, 9, 0, tzinfo=dt.UTC))  # a Sunday
    # both day fields restricted: the 1st of the month OR a Monday
    either = parse_cron("0 0 1 * mon")
    assert either.matches(dt.datetime(2026, 1, 5, tzinfo=dt.UTC))  # Monday the 5th
    assert either.matches(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # Thursday the 1st
    assert not either.matches(dt.datetime(2026, 1, 6, tzinfo=dt.UTC))


def test_latency_rollback_needs_a_challenger_slower_than_the_champion_on_the_same_machine(
        ) -> None:
    from modelyard.loop import RolloutPolicy
    from modelyard.loop._rollout import VersionCounts, _too_slow

    p = RolloutPolicy(max_latency_p99_ms=250.0, max_latency_ratio=2.0)
    loaded_machine = VersionCounts(requests=400, errors=0, p99_ms=685.0)
    champion_too = VersionCounts(requests=4000, errors=0, p99_ms=520.0)
    assert _too_slow(loaded_machine, 400, champion_too, p) == ""
    champion_fast = VersionCounts(requests=4000, errors=0, p99_ms=40.0)
    reason = _too_slow(loaded_machine, 400, champion_fast, p)
    assert "685.0 ms > 250 ms" in reason and "17.1 times the champion's 40.0 ms" in reason
    # a handful of requests is not a p99 yet; under the budget is never a breach
    assert _too_slow(loaded_machine, 99, champion_fast, p) == ""
    assert _too_slow(VersionCounts(400, 0, 240.0), 400, champion_fast, p) == ""
    # no champion figures: the budget alone decides
    assert _too_slow(loaded_machine, 400, None, p).startswith("p99 latency 685.0 ms")
