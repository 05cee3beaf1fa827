"""The ``latest_metrics`` table: kept by every metric write, filled by migration 0008 for
existing runs, and what run searches sort and filter on (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import random

from sqlalchemy import text

from modelyard.config import Settings
from modelyard.store import Database, RunQueries, RunQuery, Store, open_store, parse_run_filter


def _run(store: Store, i: int) -> str:
    rid = f"{i:032x}"
    store.runs.create(run_id=rid, name=f"run-{i:02d}", experiment="e", parent_id=None,
                      host="h", pid=1, pid_started_at=0.0, git_commit="", environment={},
                      start_time=1000.0 + i)
    return rid


def _table(store: Store) -> dict[tuple[str, str], tuple[float, int, float]]:
    with store.db.engine.connect() as conn:
        return {(r, k): (float(v), int(s), float(t)) for r, k, v, s, t in conn.execute(text(
            "SELECT run_id, key, value, step, timestamp FROM latest_metrics"))}


def test_latest_value_survives_out_of_order_steps_and_ties(store: Store) -> None:
    rid, other = _run(store, 1), _run(store, 2)
    runs = store.runs
    runs.insert_metrics([(rid, "loss", 0.9, 0, 10.0), (rid, "loss", 0.5, 5, 11.0),
                         (rid, "loss", 0.7, 3, 12.0), (other, "loss", 0.1, 0, 10.0)])
    runs.insert_metrics([(rid, "loss", 0.6, 4, 13.0)])  # a later batch, an earlier step
    # same step: the later timestamp wins, whatever the order of logging
    runs.insert_metrics([(rid, "acc", 0.8, 2, 20.0), (rid, "acc", 0.3, 2, 19.0)])
    runs.insert_metrics([(rid, "acc", 0.2, 1, 30.0), (rid, "acc", 0.1, 2, 18.0)])
    # same step and timestamp: the last logged wins, within a batch and across batches
    runs.insert_metrics([(rid, "f1", 0.4, 7, 5.0), (rid, "f1", 0.45, 7, 5.0)])
    runs.insert_metrics([(rid, "f1", 0.47, 7, 5.0), (rid, "nan", math.nan, 0, 1.0)])
    latest = RunQueries(store.db).latest_metrics([rid, other])
    assert latest[other] == {"loss": 0.1}
    assert {k: v for k, v in latest[rid].items() if k != "nan"} == {
        "acc": 0.8, "f1": 0.47, "loss": 0.5}
    assert math.isnan(latest[rid]["nan"])
    for key in ("acc", "f1", "loss"):  # the last value of the history, as it is ordered
        assert runs.metric_history(rid, key)[-1].value == latest[rid][key]
    assert runs.get(rid).metrics["loss"] == 0.5
    assert runs.max_steps(rid) == {"acc": 2, "f1": 7, "loss": 5, "nan": 0}
    assert runs.metric_keys(rid) == ["acc", "f1", "loss", "nan"]
    assert _table(store)[(rid, "loss")] == (0.5, 5, 11.0)
    arrays = RunQueries(store.db).metric_arrays(rid, ["loss", "nan", "unknown"])
    assert list(arrays) == ["loss", "nan"]
    assert arrays["loss"][0].tolist() == [0, 3, 4, 5]
    assert arrays["loss"][1].tolist() == [0.9, 0.7, 0.6, 0.5]
    assert math.isnan(arrays["nan"][1][0])
    runs.delete(rid)
    assert set(_table(store)) == {(other, "loss")}


def _expected(history: dict[str, list[tuple[str, float, int, float]]], key: str
              ) -> dict[str, float]:
    """Each run's latest ``key`` worked out from every logged value, in Python."""
    out: dict[str, float] = {}
    for rid, values in history.items():
        mine = [(s, t, n, v) for n, (k, v, s, t) in enumerate(values) if k == key]
        if mine:
            out[rid] = max(mine)[3]
    return out


def test_sorting_and_filtering_by_a_metric_match_the_history(store: Store) -> None:
    rng = random.Random(7)
    history: dict[str, list[tuple[str, float, int, float]]] = {}
    for i in range(30):
        rid = _run(store, i)
        values = [(k, rng.random(), rng.randrange(20), rng.choice([1.0, 2.0]))
                  for k in ("auc", "loss") for _ in range(rng.randrange(0 if i % 7 else 1, 6))]
        history[rid] = values
        half = len(values) // 2  # two batches, steps in any order
        for part in (values[:half], values[half:]):
            store.runs.insert_metrics([(rid, k, v, s, t) for k, v, s, t in part])
    auc, loss = _expected(history, "auc"), _expected(history, "loss")
    q = RunQueries(store.db)
    for descending in (True, False):
        page = q.page(RunQuery(order_by="metrics.auc", descending=descending, limit=100))
        ranked = sorted(auc, key=lambda r: auc[r], reverse=descending)
        without = sorted(set(history) - set(auc), key=lambda r: -int(r, 16))  # newest first
        assert [r.id for r in page.runs] == ranked + without
        assert all(r.metrics.get("auc") == auc.get(r.id) for r in page.runs)
        # page by page, across the end of the runs that logged it
        pages = [q.page(RunQuery(order_by="metrics.auc", descending=descending, limit=7,
                                 offset=o)) for o in range(0, 35, 7)]
        assert [r.id for p in pages for r in p.runs] == ranked + without
        assert {p.total for p in pages} == {30}
    page = q.page(RunQuery(filters=tuple(parse_run_filter("metrics.loss > 0.3")),
                           order_by="metrics.auc", descending=True, limit=5, offset=2))
    match = [r for r in loss if loss[r] > 0.3]
    both = sorted((r for r in match if r in auc), key=lambda r: auc[r], reverse=True)
    rest = sorted((r for r in match if r not in auc), key=lambda r: -int(r, 16))
    assert page.total == len(match)
    assert [r.id for r in page.runs] == (both + rest)[2:7]
    assert q.page(RunQuery(filters=tuple(parse_run_filter("metrics.loss != 2")),
                           limit=100)).total == len(loss)


def test_migration_0008_fills_the_table_for_existing_runs(settings: Settings) -> None:
    url = settings.db_url or f"sqlite:///{settings.state_dir / 'yard.db'}"
    old = Database(url, migrate=False)
    old.upgrade("0007")
    rows = [("a", "loss", 0.9, 0, 1.0), ("a", "loss", 0.4, 9, 2.0), ("a", "loss", 0.6, 3, 9.0),
            ("a", "acc", 0.1, 2, 5.0), ("a", "acc", 0.2, 2, 4.0),  # same step: later time
            ("b", "acc", 0.3, 1, 7.0), ("b", "acc", 0.35, 1, 7.0),  # same time: last logged
            ("c", "loss", 0.2, 0, 1.0)]
    with old.engine.begin() as conn:
        for n, rid in enumerate("abcd"):
            conn.execute(text(
                "INSERT INTO runs (id, name, experiment, parent_id, status, start_time, "
                "end_time, heartbeat_at, host, pid, pid_started_at, git_commit, "
                "environment_json, failure) VALUES (:id, :name, 'e', NULL, 'finished', :t, "
                ":t, :t, 'h', 1, 0, '', '{}', '')"), {"id": rid * 32, "name": rid, "t": n})
        conn.execute(text("INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES "
                          "(:r, :k, :v, :s, :t)"), [
            {"r": r * 32, "k": k, "v": v, "s": s, "t": t} for r, k, v, s, t in rows])
    old.dispose()
    store = open_store(settings)  # upgrades on open
    try:
        assert store.db.revision() == "0008"
        assert _table(store) == {("a" * 32, "loss"): (0.4, 9, 2.0),
                                 ("a" * 32, "acc"): (0.1, 2, 5.0),
                                 ("b" * 32, "acc"): (0.35, 1, 7.0),
                                 ("c" * 32, "loss"): (0.2, 0, 1.0)}
        page = RunQueries(store.db).page(RunQuery(
            filters=tuple(parse_run_filter("metrics.acc >= 0.1")), order_by="metrics.acc"))
        assert [r.name for r in page.runs] == ["b", "a"]
        store.runs.insert_metrics([("c" * 32, "loss", 0.1, 1, 2.0)])  # kept up to date
        assert store.runs.get("c" * 32).metrics == {"loss": 0.1}
    finally:
        store.close()
