from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from _loopkit import make_champion, make_frame

import modelyard
from modelyard.loop import Policy, TriggerPolicy, check_triggers


def _check(yard: modelyard.Yard, marks: dict[str, Any], now: float | None = None,
           **triggers: Any) -> Any:
    champion = yard.models.get("fraud@champion")
    return check_triggers(yard, Policy("fraud", triggers=TriggerPolicy(**triggers)), champion,
                          marks, time.time() if now is None else now)


def test_schedule_due_and_not_due(yard: modelyard.Yard) -> None:
    make_champion(yard)
    marks: dict[str, Any] = {}
    assert _check(yard, marks, now=1_767_225_600.0 + 30, schedule="0 * * * *") is None  # first look
    assert _check(yard, marks, now=1_767_225_600.0 + 50, schedule="0 * * * *") is None
    fired = _check(yard, marks, now=1_767_225_600.0 + 3600 + 5, schedule="0 * * * *")
    assert fired.kind == "schedule"


def test_new_dataset_version(yard: modelyard.Yard) -> None:
    make_champion(yard)
    marks: dict[str, Any] = {}
    assert _check(yard, marks, new_data=True) is None
    yard.datasets.ingest(make_frame(300, seed=5), name="tx")
    fired = _check(yard, marks, new_data=True)
    assert fired.kind == "new_data" and fired.data["dataset"] == "tx@2"
    assert _check(yard, marks, new_data=True) is None  # seen now


def test_new_file_in_watched_folder_is_ingested(yard: modelyard.Yard) -> None:
    make_champion(yard)
    folder = yard.settings.project_dir / "incoming"
    folder.mkdir()
    make_frame(50, seed=1).to_csv(folder / "old.csv", index=False)
    marks: dict[str, Any] = {}
    assert _check(yard, marks, watch_folder="incoming") is None  # files already there: known
    make_frame(80, seed=2).to_csv(folder / "day2.csv", index=False)
    fired = _check(yard, marks, watch_folder="incoming")
    assert fired.kind == "watch_folder" and fired.data["files"] == ["day2.csv"]
    newest = yard.datasets.get("tx@latest")
    assert newest.version == 2 and newest.n_rows == 600 + 80
    assert _check(yard, marks, watch_folder="incoming") is None


def test_new_rows_in_watched_table(yard: modelyard.Yard, tmp_path: Path) -> None:
    make_champion(yard)
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        make_frame(100, seed=3).rename_axis("id").reset_index().to_sql("tx", conn, index=False)
    url = f"sqlite:///{db}"
    marks: dict[str, Any] = {}
    table = {"db_url": url, "table": "tx", "key": "id"}
    assert _check(yard, marks, watch_table=table) is None
    assert _check(yard, marks, watch_table=table) is None
    with sqlite3.connect(db) as conn:
        more = make_frame(40, seed=4)
        more.index = more.index + 100
        more.rename_axis("id").reset_index().to_sql("tx", conn, index=False, if_exists="append")
    fired = _check(yard, marks, watch_table=table)
    assert fired.kind == "watch_table" and fired.data["rows"] == 140
    assert yard.datasets.get(fired.data["dataset"]).n_rows == 140


def _alert(yard: modelyard.Yard, rule: str, subject: str) -> None:
    yard.store.monitoring.open_alert("fraud", rule, subject, value=0.5, threshold=0.2,
                                     message=f"{rule} of {subject}", at=time.time())


def test_drift_alert(yard: modelyard.Yard) -> None:
    make_champion(yard)
    marks: dict[str, Any] = {}
    assert _check(yard, marks, drift=True) is None
    _alert(yard, "accuracy_drop>0.05", "accuracy")
    assert _check(yard, marks, drift=True) is None  # not a drift alert
    _alert(yard, "feature_psi>0.2", "x2")
    fired = _check(yard, marks, drift=True)
    assert fired.kind == "drift" and fired.data["subject"] == "x2"
    assert _check(yard, marks, drift=True) is None  # the same incident fires once


def test_accuracy_drop_alert(yard: modelyard.Yard) -> None:
    make_champion(yard)
    marks: dict[str, Any] = {}
    _alert(yard, "accuracy_drop>0.05", "accuracy")
    fired = _check(yard, marks, accuracy_drop=True)
    assert fired.kind == "accuracy_drop" and "accuracy" in fired.reason
