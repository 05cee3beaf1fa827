"""What the runs pages show: the runs table, one run, and runs compared side by side.

Each function returns plain data (dicts, lists, numbers, SVG markup) that both the HTML
templates and the JSON API use; the searching itself is SQL in the store
(:class:`~modelyard.store.RunQueries`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput, NotFound
from ..store import (
    ModelVersion,
    RunPage,
    RunQueries,
    RunQuery,
    RunSummary,
    parse_run_filter,
)
from ..yard import Yard
from ._charts import line_chart, parallel_coordinates
from ._sampling import CURVE_POINTS, downsample

__all__ = ["RunsRequest", "compare_runs", "run_detail", "runs_table", "summary_dict"]

_STATUSES = ("running", "finished", "failed", "killed")
MAX_COMPARE = 5


class RunsRequest:
    """The runs table's query string, checked: what the user asked for.

    Args:
        params: the query parameters (``experiment``, ``status``, ``q``, ``filter``,
            ``sort``, ``order``, ``page``, ``per_page``, ``view``, ``metrics``, ``params``).

    Raises:
        InvalidInput: a bad status, order, page, page size, view or filter.
    """

    def __init__(self, params: Mapping[str, str]) -> None:
        self.experiment = params.get("experiment") or None
        self.status = params.get("status") or None
        if self.status is not None and self.status not in _STATUSES:
            raise InvalidInput(f"status {self.status!r} is not a run status; use one of "
                               f"{', '.join(_STATUSES)}")
        self.search = params.get("q", "")
        self.filter = params.get("filter", "")
        self.sort = params.get("sort") or "start_time"
        self.order = params.get("order") or "desc"
        if self.order not in ("asc", "desc"):
            raise InvalidInput(f"order {self.order!r} is neither asc nor desc")
        self.view = params.get("view") or "tree"
        if self.view not in ("tree", "flat"):
            raise InvalidInput(f"view {self.view!r} is neither tree (child runs under their "
                               "parent) nor flat")
        self.page = _int(params.get("page"), "page", 1)
        self.per_page = _int(params.get("per_page"), "per_page", 50)
        if self.page < 1 or not 1 <= self.per_page <= 500:
            raise InvalidInput("page starts at 1 and per_page is 1 to 500")
        self.metric_columns = _names(params.get("metrics"))
        self.param_columns = _names(params.get("params"))
        self.filters = tuple(parse_run_filter(self.filter))

    def query(self) -> RunQuery:
        """The store query for this request."""
        return RunQuery(experiment=self.experiment, status=self.status, search=self.search,
                        filters=self.filters, top_level=self.view == "tree",
                        order_by=self.sort, descending=self.order == "desc",
                        offset=(self.page - 1) * self.per_page, limit=self.per_page)

    def link(self, **changes: Any) -> str:
        """This request's query string with some parameters changed."""
        from urllib.parse import urlencode

        values = {"experiment": self.experiment or "", "status": self.status or "",
                  "q": self.search, "filter": self.filter, "sort": self.sort,
                  "order": self.order, "view": self.view, "page": str(self.page),
                  "per_page": str(self.per_page),
                  "metrics": ",".join(self.metric_columns),
                  "params": ",".join(self.param_columns)}
        values.update({k: str(v) for k, v in changes.items()})
        defaults = {"sort": "start_time", "order": "desc", "view": "tree", "page": "1",
                    "per_page": "50"}
        kept = {k: v for k, v in values.items() if v and defaults.get(k) != v}
        return "?" + urlencode(kept) if kept else "?"

    def sort_link(self, key: str) -> str:
        """The link that sorts by ``key`` (flipping the order when it already does)."""
        order = "asc" if self.sort == key and self.order == "desc" else "desc"
        return self.link(sort=key, order=order, page=1)


def _int(text: str | None, name: str, default: int) -> int:
    if text in (None, ""):
        return default
    try:
        return int(str(text))
    except ValueError:
        raise InvalidInput(f"{name} {text!r} is not a whole number") from None


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def summary_dict(run: RunSummary) -> dict[str, Any]:
    """A table row as JSON."""
    return {"id": run.id, "name": run.name, "experiment": run.experiment,
            "parent_id": run.parent_id, "status": run.status, "start_time": run.start_time,
            "end_time": run.end_time, "duration_s": run.duration_s, "params": run.params,
            "metrics": run.metrics, "tags": run.tags, "children": run.children}


def runs_table(yard: Yard, req: RunsRequest) -> dict[str, Any]:
    """One page of the runs table with what the page needs around it.

    Returns:
        ``page`` (:class:`RunPage`), ``children`` (child runs of the page's parents in tree
        view), ``metric_columns`` and ``param_columns`` (shown), ``experiments``, ``pages``.
    """
    queries = RunQueries(yard.store.db)
    page: RunPage = queries.page(req.query())
    children = (queries.children([r.id for r in page.runs if r.children])
                if req.view == "tree" else {})
    child_runs = [c for cs in children.values() for c in cs]
    metric_keys = sorted(set(page.metric_keys) | {k for c in child_runs for k in c.metrics})
    param_keys = sorted(set(page.param_keys) | {k for c in child_runs for k in c.params})
    sort_kind, _, sort_key = req.sort.partition(".")
    metric_columns = req.metric_columns or metric_keys[:6]
    param_columns = req.param_columns or param_keys[:4]
    if sort_kind == "metrics" and sort_key and sort_key not in metric_columns:
        metric_columns = [sort_key, *metric_columns]
    if sort_kind == "params" and sort_key and sort_key not in param_columns:
        param_columns = [sort_key, *param_columns]
    pages = max(1, -(-page.total // req.per_page))
    return {"page": page, "children": children, "metric_columns": metric_columns,
            "param_columns": param_columns, "metric_keys": metric_keys,
            "param_keys": param_keys, "experiments": queries.experiments(), "pages": pages}


def _get_run(yard: Yard, run_id: str) -> Any:
    run_id = run_id.strip().lower()
    if len(run_id) < 32:
        ids = yard.store.runs.ids_starting(run_id)
        if len(ids) == 1:
            run_id = ids[0]
    return RunQueries(yard.store.db).get(run_id)


def _study(children: list[RunSummary], primary: str | None) -> dict[str, Any] | None:
    """Parallel coordinates of a tuning study: the params that vary, then the metric."""
    if len(children) < 2:
        return None
    keys = sorted({k for c in children for k in c.params})
    varying = [k for k in keys if len({c.params.get(k) for c in children}) > 1]
    metrics = sorted({k for c in children for k in c.metrics})
    metric = primary if primary in metrics else (metrics[0] if metrics else None)
    if not varying and metric is None:
        return None
    axes = [*varying[:8], *([metric] if metric else [])]
    rows = [{**c.params, **c.metrics} for c in children]
    return {"metric": metric, "axes": axes,
            "svg": parallel_coordinates(axes, rows, colour_by=metric,
                                        labels=[c.name for c in children])}


def run_detail(yard: Yard, run_id: str, *, charts: bool = True) -> dict[str, Any]:
    """One run: attributes, params, latest metrics, curves, artifacts, environment, child
    runs (with a parallel-coordinates view when they are a study) and models made from it.

    Each curve is drawn from at most :data:`CURVE_POINTS` points (:func:`downsample`: the
    first, the last, each span's smallest and largest value); ``curves`` holds per metric
    its ``key``, ``points`` (logged) and ``shown`` (drawn) and the ``svg``.

    Raises:
        NotFound: no run has this id (or prefix).
    """
    run = _get_run(yard, run_id)
    queries = RunQueries(yard.store.db)
    series = queries.metric_arrays(run.id) if charts else {}
    children = queries.children([run.id]).get(run.id, [])
    primary = run.tags.get("primary_metric") or run.params.get("primary_metric")
    curves: list[dict[str, Any]] = []
    for key, (steps, values) in series.items():
        if steps.size > 1:
            xs, ys = downsample(steps, values, CURVE_POINTS)
            curves.append({"key": key, "points": int(steps.size), "shown": int(xs.size),
                           "svg": line_chart({key: (xs, ys)}, title=key, x_label="step",
                                             y_label=key, width=520, height=220,
                                             every_point=True)})
    models: list[ModelVersion] = []
    for m in yard.models.list():
        models.extend(v for v in yard.models.versions(m.name) if v.run_id == run.id)
    parent = None
    if run.parent_id:
        try:
            parent = queries.get(run.parent_id)
        except NotFound:
            parent = None
    return {"run": run, "parent": parent, "children": children, "curves": curves,
            "points": sum(int(s[0].size) for s in series.values()),
            "curve_points": CURVE_POINTS,
            "sampled": any(c["points"] > CURVE_POINTS for c in curves),
            "study": _study(children, primary), "models": models,
            "environment": json.dumps(run.environment, indent=2, sort_keys=True)}


def compare_runs(yard: Yard, ids: list[str]) -> dict[str, Any]:
    """Two to five runs side by side: params and latest metrics in rows (those that differ
    marked), one chart per metric with every run's curve overlaid, and parallel
    coordinates over the params that differ.

    Raises:
        InvalidInput: fewer than 2 or more than 5 runs.
        NotFound: an id that names no run.
    """
    unique = list(dict.fromkeys(i for i in ids if i))
    if not 2 <= len(unique) <= MAX_COMPARE:
        raise InvalidInput(f"compare 2 to {MAX_COMPARE} runs; {len(unique)} selected")
    runs = [_get_run(yard, i) for i in unique]
    queries = RunQueries(yard.store.db)
    param_keys = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    label = {r.id: f"{r.name} ({r.id[:8]})" for r in runs}
    curves: dict[str, dict[str, tuple[Any, Any]]] = {}
    for r in runs:
        for key, (steps, values) in queries.metric_arrays(r.id).items():
            curves.setdefault(key, {})[label[r.id]] = downsample(steps, values, CURVE_POINTS)
    charts = [(key, line_chart(lines, title=key, x_label="step", y_label=key, width=560,
                               height=240))
              for key, lines in sorted(curves.items())
              if any(s[0].size > 1 for s in lines.values())]
    differ = [k for k in param_keys if len({r.params.get(k) for r in runs}) > 1]
    rows = [{**r.params, **r.metrics} for r in runs]
    parallel = None
    if differ and metric_keys:
        axes = [*differ[:8], metric_keys[0]]
        parallel = parallel_coordinates(axes, rows, colour_by=metric_keys[0],
                                        labels=[label[r.id] for r in runs])
    return {"runs": runs, "param_keys": param_keys, "metric_keys": metric_keys,
            "differ": set(differ) | {k for k in metric_keys
                                     if len({r.metrics.get(k) for r in runs}) > 1},
            "charts": charts, "parallel": parallel}
