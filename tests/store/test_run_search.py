"""Run searches in SQL (filter, sort, page) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidInput
from modelyard.store import RunQueries, RunQuery, Store, parse_run_filter


def _fill(store: Store) -> None:
    runs = store.runs
    for i in range(12):
        rid = f"{i:032x}"
        runs.create(run_id=rid, name=f"trial-{i:02d}" if i % 3 else f"Baseline {i}",
                    experiment="fraud" if i < 8 else "churn", parent_id=None, host="h", pid=1,
                    pid_started_at=0.0, git_commit="", environment={},
                    tags={"team": "risk" if i % 2 else "growth"}, start_time=1000.0 + i)
        runs.log_params(rid, {"C": str([0.5, 10, 2][i % 3]), "solver": "lbfgs"})
        # auc climbs over steps; the latest step holds i / 20
        runs.insert_metrics([(rid, "auc", 0.0, s, 1.0 + s) for s in range(3)]
                            + [(rid, "auc", i / 20, 3, 5.0)])
        if i != 5:
            runs.end(rid, status="finished" if i != 7 else "failed", end_time=1000.0 + 2 * i)
    child = f"{99:032x}"
    runs.create(run_id=child, name="trial-child", experiment="fraud", parent_id=f"{1:032x}",
                host="h", pid=1, pid_started_at=0.0, git_commit="", environment={},
                start_time=2000.0)


def _ids(page: object) -> list[int]:
    return [int(r.id, 16) for r in page.runs]  # type: ignore[attr-defined]


def test_filter_sort_and_page(store: Store) -> None:
    _fill(store)
    q = RunQueries(store.db)
    page = q.page(RunQuery(filters=tuple(parse_run_filter("metrics.auc >= 0.3")),
                           order_by="metrics.auc", descending=False, limit=3))
    assert page.total == 6 and _ids(page) == [6, 7, 8]
    assert page.runs[0].metrics == {"auc": 0.3} and page.metric_keys == ["auc"]
    assert _ids(q.page(RunQuery(filters=tuple(parse_run_filter("metrics.auc >= 0.3")),
                                order_by="metrics.auc", descending=False, limit=3,
                                offset=3))) == [9, 10, 11]
    # params compare as numbers with < and >, as text with =; tags and experiments
    assert _ids(q.page(RunQuery(filters=tuple(parse_run_filter(
        "params.C > 1 and tags.team = risk")), order_by="start_time", descending=False))) \
        == [1, 5, 7, 11]
    assert q.page(RunQuery(experiment="churn")).total == 4
    assert _ids(q.page(RunQuery(status="running", top_level=True))) == [5]
    assert _ids(q.page(RunQuery(search="baseline", descending=False))) == [0, 3, 6, 9]
    by_c = q.page(RunQuery(order_by="params.C", top_level=True, limit=12))
    assert [r.params["C"] for r in by_c.runs][:4] == ["10"] * 4  # 10 > 2 as numbers
    failed = q.page(RunQuery(filters=tuple(parse_run_filter("status = failed"))))
    assert _ids(failed) == [7]
    # nested runs: the parent counts its child; top_level hides it
    assert q.page(RunQuery(top_level=True, limit=100)).total == 12
    parent = next(r for r in q.page(RunQuery(limit=100)).runs if r.id == f"{1:032x}")
    assert parent.children == 1
    assert [c.name for c in q.children([parent.id])[parent.id]] == ["trial-child"]
    series = q.metric_series(f"{4:032x}")
    assert series["auc"] == ([0, 1, 2, 3], [0.0, 0.0, 0.0, 0.2])


@pytest.mark.parametrize(("text", "words"), [
    ("metrics.auc > high", "not a number"),
    ("bogus.auc > 1", "is not metrics, params, tags"),
    ("colour = red", "not a run attribute"),
    ("metrics.auc", "KIND.KEY OP VALUE"),
    ("metrics.auc ~ 1", "compares text"),
])
def test_bad_filters_say_what_to_write(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_run_filter(text)


def test_filter_parsing_keeps_quoted_and() -> None:
    f = parse_run_filter("tags.note = 'salt and pepper' AND params.`max depth` != 3")
    assert [(x.kind, x.key, x.op, x.value) for x in f] == [
        ("tag", "note", "=", "salt and pepper"), ("param", "max depth", "!=", "3")]


def test_bad_sort_and_page(store: Store) -> None:
    q = RunQueries(store.db)
    with pytest.raises(InvalidInput, match="cannot sort runs by 'colour'"):
        q.page(RunQuery(order_by="colour"))
    with pytest.raises(InvalidInput, match="page size 0"):
        q.page(RunQuery(limit=0))
