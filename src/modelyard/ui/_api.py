"""The dashboard's JSON API: what the pages show, for scripts (read key), and the one change
it makes, moving an alias (admin key).

Run searches are paged and filtered in SQL (``GET /api/runs?filter=metrics.auc>0.9&
sort=metrics.auc&order=desc&page=2``); metric curves can be thinned to ``max_points`` per
key for drawing.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.requests import Request

from ..errors import InvalidInput
from ..store import ApiKey, RunQueries
from ._context import admin, reader, ui_context
from ._models_view import (
    dataset_detail,
    datasets_overview,
    model_detail,
    models_overview,
    move_alias,
)
from ._monitor_view import loop_timeline
from ._runs_view import RunsRequest, compare_runs, runs_table, summary_dict
from ._sampling import downsample
from ._serving import summary

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["dashboard"], dependencies=[Depends(reader)])
T = TypeVar("T")


def _finite(value: T) -> T:
    """``value`` with NaN and infinities as ``None`` (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return cast(T, None)
    if isinstance(value, dict):
        return cast(T, {k: _finite(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return cast(T, [_finite(v) for v in value])
    return value


@router.get("/runs")
def runs(request: Request) -> dict[str, Any]:
    """One page of runs: ``experiment``, ``status``, ``q`` (name or id prefix), ``filter``
    (``metrics.auc > 0.9 and params.C = 1 and tags.team = risk``), ``sort``
    (``start_time``, ``metrics.KEY``, ``params.KEY`` ...), ``order``, ``page``,
    ``per_page``, ``view`` (``tree``: top-level runs with their children; ``flat``)."""
    req = RunsRequest(dict(request.query_params))
    table = runs_table(ui_context(request).yard, req)
    page = table["page"]
    return _finite({
        "total": page.total, "page": req.page, "per_page": req.per_page,
        "pages": table["pages"], "runs": [summary_dict(r) for r in page.runs],
        "children": {k: [summary_dict(c) for c in v] for k, v in table["children"].items()},
        "metric_keys": table["metric_keys"], "param_keys": table["param_keys"],
        "experiments": [{"name": n, "runs": c} for n, c in table["experiments"]]})


@router.get("/runs/{run_id}")
def run(request: Request, run_id: str) -> dict[str, Any]:
    """One run with its params, latest metrics, tags, inputs, artifacts and environment."""
    yard = ui_context(request).yard
    found = yard.runs.get(run_id)
    children = RunQueries(yard.store.db).children([found.id]).get(found.id, [])
    data = asdict(found)
    data["children"] = [summary_dict(c) for c in children]
    return _finite(data)


@router.get("/runs/{run_id}/metrics")
def run_metrics(request: Request, run_id: str,
                keys: Annotated[list[str] | None, Query()] = None,
                max_points: Annotated[int | None, Query(ge=10, le=1_000_000)] = None
                ) -> dict[str, Any]:
    """Every value of a run's metrics, ``key -> {steps, values, points}`` (``points``: how
    many were logged); with ``max_points``, each series downsampled to at most that many
    points that keep its shape (the first, the last, and the smallest and largest value of
    each span, as the run page draws them). Non-finite values come as ``null``."""
    yard = ui_context(request).yard
    found = yard.runs.get(run_id)
    series = RunQueries(yard.store.db).metric_arrays(found.id, keys)
    out = {}
    for key, (steps, values) in series.items():
        points = int(steps.size)
        if max_points is not None:
            xs, ys = downsample(steps, values, max_points)
            steps, values = xs.astype(int), ys
        out[key] = {"steps": steps.tolist(), "values": values.tolist(), "points": points}
    return _finite({"run_id": found.id, "metrics": out})


@router.get("/compare")
def compare(request: Request, ids: Annotated[list[str], Query()]) -> dict[str, Any]:
    """Two to five runs side by side: their params and latest metrics."""
    data = compare_runs(ui_context(request).yard, check_ids(ids))
    return _finite({"runs": [{"id": r.id, "name": r.name, "params": r.params,
                              "metrics": r.metrics} for r in data["runs"]],
                    "differ": sorted(data["differ"])})


@router.get("/datasets")
def datasets(request: Request) -> list[dict[str, Any]]:
    """Every dataset with its latest version's size."""
    return datasets_overview(ui_context(request).yard)


@router.get("/datasets/{name}")
def dataset(request: Request, name: str, version: int | None = None) -> dict[str, Any]:
    """A dataset's versions with the runs and models that used each, the chosen version's
    schema and its validation against the previous version's schema."""
    data = dataset_detail(ui_context(request).yard, name, version)
    return _finite({
        "name": name, "version": data["chosen"].version, "columns": data["columns"],
        "validation": data["validation"],
        "versions": [{**asdict(r["version"]), "runs": r["runs"], "models": r["models"]}
                     for r in data["versions"]]})


@router.get("/models")
def models(request: Request) -> list[dict[str, Any]]:
    """Every model with its aliases and the champion's metrics."""
    return _finite(models_overview(ui_context(request).yard))


@router.get("/models/{name}")
def model(request: Request, name: str) -> dict[str, Any]:
    """A model's versions with lineage, its alias history and rollouts."""
    data = model_detail(ui_context(request).yard, name)
    return _finite({
        "name": name, "aliases": data["model"].aliases, "champion": data["champion"],
        "rollback_to": data["rollback_to"],
        "versions": [{"version": r["version"].version, "aliases": list(r["version"].aliases),
                      "run_id": r["version"].run_id, "dataset": r["version"].dataset_ref,
                      "metrics": r["version"].metrics, "deployments": r["deployments"],
                      "description": r["version"].description,
                      "created_at": r["version"].created_at} for r in data["versions"]],
        "history": [asdict(e) for e in data["history"]],
        "rollouts": [asdict(r) for r in data["rollouts"]]})


class AliasMove(BaseModel):
    """Point an alias at a version (promote, or roll back)."""

    alias: str = Field(default="champion", min_length=1, max_length=100)
    version: int = Field(ge=1)
    reason: str = Field(default="", max_length=500)


@router.post("/models/{name}/aliases")
def set_alias(request: Request, name: str, body: AliasMove,
              key: Annotated[ApiKey | None, Depends(admin)]) -> dict[str, Any]:
    """Move ``alias`` of ``name`` to ``version`` (admin key; from a browser also the
    ``X-Modelyard-UI: 1`` header). Servers following the alias swap within one poll."""
    who = f"key {key.id}" if key is not None else "an open dashboard"
    return move_alias(ui_context(request).yard, name, body.alias, body.version,
                      reason=body.reason, who=who)


@router.get("/serving")
def serving(request: Request) -> dict[str, Any]:
    """The newest request rate, latency percentiles and error share per model version,
    from the servers' metrics the dashboard reads."""
    sampler = ui_context(request).sampler
    series = sampler.series() if sampler is not None else {}
    return _finite({
        "sources": [{"server": n, "error": e} for n, e in (sampler.sources if sampler else [])],
        "versions": [{"model": m, "version": v, **summary(points), "points": len(points)}
                     for (m, v), points in series.items()]})


@router.get("/models/{name}/monitor")
def monitor(request: Request, name: str,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Stored monitoring windows (drift, quality, health) and alerts of a model."""
    yard = ui_context(request).yard
    yard.models.get_model(name)
    windows = yard.store.monitoring.windows(name, limit=limit)
    return _finite({
        "model": name, "windows": [w.result for w in windows],
        "alerts": [a.to_dict() for a in yard.monitor.alerts(name)]})


@router.get("/models/{name}/loop")
def loop(request: Request, name: str) -> dict[str, Any]:
    """The loop's audit trail of a model, cycle by cycle, and its rollouts."""
    data = loop_timeline(ui_context(request).yard, name)
    return _finite({
        "model": name, "state": data["state"],
        "cycles": [{"cycle": c["cycle"], "outcome": c["outcome"],
                    "events": [asdict(e["event"]) for e in c["events"]]}
                   for c in data["cycles"]],
        "rollouts": [asdict(r) for r in data["rollouts"]]})


def check_ids(ids: list[str]) -> list[str]:
    """Run ids from a compare form (``ids=a&ids=b`` or ``ids=a,b``)."""
    out = [i.strip() for raw in ids for i in raw.split(",") if i.strip()]
    if not out:
        raise InvalidInput("choose 2 to 5 runs to compare")
    return out
