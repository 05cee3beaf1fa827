"""Triggers: what makes the loop retrain a model.

Each check compares what it sees with a watermark kept in the model's loop state
(``marks``) and moves the watermark; a watermark seen for the first time is only recorded
(files already in a watched folder, rows already in a watched table are known, not new).

========================  ===================================================
``schedule``              a minute of the cron schedule passed since the last look
``new_data``              the training dataset has a version newer than the one the
                          champion (or the last retrain) used
``watch_folder``          new CSV/Parquet files: appended to the newest dataset version
                          and ingested as a new version
``watch_table``           new rows in a SQL table (row count or largest key): the table
                          is ingested as a new version
``drift``                 a drift alert opened by the monitor since the last look
``accuracy_drop``         a quality-drop alert on delayed labels since the last look
========================  ===================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InvalidInput, ModelyardError, StorageUnavailable
from ..registry import Lineage
from ._cron import parse_cron
from ._policy import Policy
from ._workspace import Workspace

if TYPE_CHECKING:
    from ..store import ModelVersion

__all__ = ["DRIFT_MEASURES", "Trigger", "check_triggers", "training_dataset"]

DRIFT_MEASURES = ("feature_psi", "feature_drift", "prediction_psi", "missing_rate",
                  "out_of_range_rate")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_DATA_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class Trigger:
    """Why a retraining starts.

    Attributes:
        kind: ``schedule``, ``new_data``, ``watch_folder``, ``watch_table``, ``drift``,
            ``accuracy_drop`` or ``manual``.
        reason: the reason in words.
        data: the details (files, rows, alert ids, dataset version).
    """

    kind: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def training_dataset(champion: ModelVersion) -> tuple[str, int | None]:
    """The dataset name the champion's spec trains on, and the version it used."""
    lineage = Lineage.find(champion)
    spec = lineage.spec if lineage is not None else {}
    name = str(spec.get("dataset", "")).split("@", 1)[0]
    used = None
    if champion.dataset_ref and "@" in champion.dataset_ref:
        ref_name, _, number = champion.dataset_ref.partition("@")
        name = name or ref_name
        used = int(number) if number.isdigit() else None
    if not name:
        raise InvalidInput(f"{champion.ref} has no training spec or dataset; the loop can only "
                           "retrain models registered by `modelyard train`")
    return name, used


def _schedule(policy: Policy, marks: dict[str, Any], now: float) -> Trigger | None:
    cron = parse_cron(policy.triggers.schedule)
    last = marks.get("schedule_at")
    marks["schedule_at"] = now
    if last is None or not cron.due(float(last), now):
        return None
    return Trigger("schedule", f"the schedule '{cron.text}' is due", {"schedule": cron.text})


def _new_data(ws: Workspace, dataset: str, used: int | None,
              marks: dict[str, Any]) -> Trigger | None:
    seen = marks.get("dataset_version", used)
    versions = ws.datasets.versions(dataset)
    if not versions:
        return None
    newest = versions[-1].version
    marks["dataset_version"] = newest
    if seen is None or newest <= int(seen):
        return None
    return Trigger("new_data", f"dataset {dataset} has version {newest}, newer than "
                   f"version {seen} last trained on", {"dataset": f"{dataset}@{newest}"})


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def _watch_folder(ws: Workspace, policy: Policy, dataset: str,
                  marks: dict[str, Any]) -> Trigger | None:
    folder = Path(policy.triggers.watch_folder)
    if not folder.is_absolute():
        folder = ws.settings.project_dir / folder
    if not folder.is_dir():
        return None
    found = {f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}": p
             for p in sorted(folder.iterdir())
             if p.is_file() and p.suffix.lower() in _DATA_SUFFIXES}
    known = marks.get("folder_files")
    if known is None:
        marks["folder_files"] = sorted(found)
        return None
    new = [key for key in found if key not in set(known)]
    if not new:
        return None
    frames = [_read_file(found[key]) for key in new]
    base = ws.datasets.load(f"{dataset}@latest")
    try:
        combined = pd.concat([base, *(f[list(base.columns)] for f in frames)],
                             ignore_index=True)
    except KeyError as exc:
        raise InvalidInput(f"a new file in {folder} lacks columns of dataset {dataset}: "
                           f"{exc}") from exc
    version = ws.datasets.ingest(combined, name=dataset)
    marks["folder_files"] = sorted(found)
    names = [found[k].name for k in new]
    rows = sum(len(f) for f in frames)
    return Trigger("watch_folder", f"{len(names)} new file(s) in {folder} ({rows} rows) "
                   f"ingested as {version.ref}",
                   {"files": names, "rows": rows, "dataset": version.ref})


def _watch_table(ws: Workspace, policy: Policy, dataset: str,
                 marks: dict[str, Any]) -> Trigger | None:
    from sqlalchemy import create_engine, text

    spec = policy.triggers.watch_table
    table, key = spec["table"], spec.get("key", "")
    for name in (table, key) if key else (table,):
        if not _IDENT.match(name):
            raise InvalidInput(f"watch_table name {name!r} is not a plain SQL identifier")
    engine = create_engine(spec["db_url"])
    try:
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT COUNT(*), {f'MAX({key})' if key else 'NULL'} "
                                    f"FROM {table}")).one()
    except Exception as exc:
        raise StorageUnavailable(f"cannot read watched table {table!r}: {exc}") from exc
    finally:
        engine.dispose()
    count, largest = int(row[0]), row[1]
    now_mark = {"count": count, "max": None if largest is None else str(largest)}
    seen = marks.get("table")
    marks["table"] = now_mark
    if seen is None or seen == now_mark:
        return None
    version = ws.datasets.ingest_sql(f"SELECT * FROM {table}", spec["db_url"], name=dataset)
    return Trigger("watch_table", f"table {table} changed from {seen['count']} to {count} rows"
                   + (f" (largest {key} {now_mark['max']})" if key else "")
                   + f"; ingested as {version.ref}",
                   {"table": table, "rows": count, "dataset": version.ref})


def _alerts(ws: Workspace, policy: Policy, marks: dict[str, Any]) -> Trigger | None:
    t = policy.triggers
    if t.monitor_window:
        try:
            ws.monitor.check(policy.model, window=t.monitor_window,
                             server_url=policy.rollout.server_url or None,
                             server_required=False)
        except StorageUnavailable:
            raise
        except ModelyardError:
            pass  # no profile or log yet: nothing to alert on this pass
    seen = int(marks.get("alert_id", 0))
    fresh = [a for a in ws.monitor.alerts(policy.model, status="open") if a.id > seen]
    if fresh:
        marks["alert_id"] = max(a.id for a in fresh)
    for alert in sorted(fresh, key=lambda a: a.id):
        measure = alert.rule.split(">", 1)[0]
        if t.drift and measure in DRIFT_MEASURES:
            return Trigger("drift", f"drift alert: {alert.message}",
                           {"alert_id": alert.id, "rule": alert.rule, "subject": alert.subject})
        if t.accuracy_drop and measure.endswith(("_drop", "_rise")):
            return Trigger("accuracy_drop", f"quality alert: {alert.message}",
                           {"alert_id": alert.id, "rule": alert.rule, "subject": alert.subject})
    return None


def check_triggers(ws: Workspace, policy: Policy, champion: ModelVersion,
                   marks: dict[str, Any], now: float) -> Trigger | None:
    """Run every check the policy enables, moving ``marks`` (in place).

    Returns:
        The first trigger that fired (the data of others that fired in the same pass is
        folded into its ``also``), or ``None``.
    """
    t = policy.triggers
    dataset, used = training_dataset(champion)
    fired: list[Trigger] = []
    if t.watch_folder:
        fired.append(_watch_folder(ws, policy, dataset, marks) or _none)
    if t.watch_table:
        fired.append(_watch_table(ws, policy, dataset, marks) or _none)
    if t.new_data or t.watch_folder or t.watch_table:
        hit = _new_data(ws, dataset, used, marks)
        fired.append(hit if t.new_data and hit else _none)
    if t.drift or t.accuracy_drop:
        fired.append(_alerts(ws, policy, marks) or _none)
    if t.schedule:
        fired.append(_schedule(policy, marks, now) or _none)
    real = [f for f in fired if f is not _none]
    if not real:
        return None
    first = real[0]
    if len(real) > 1:
        return Trigger(first.kind, first.reason, {**first.data,
                                                  "also": [f.kind for f in real[1:]]})
    return first


_none = Trigger("none", "")
