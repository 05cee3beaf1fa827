"""The dashboard's pages: server-rendered HTML, one route per page, read key needed.

Sign-in (``/login``) takes a key from a plain HTML form (read without python-multipart:
the body is URL-encoded text) and keeps it in an HttpOnly cookie.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ..errors import NotFound, Unauthorized
from ._api import check_ids
from ._auth import COOKIE
from ._context import reader, ui_context
from ._models_view import dataset_detail, datasets_overview, model_detail, models_overview
from ._monitor_view import loop_timeline, monitoring_detail, serving_overview
from ._runs_view import RunsRequest, compare_runs, run_detail, runs_table

__all__ = ["public", "router"]

router = APIRouter(dependencies=[Depends(reader)], include_in_schema=False)
public = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@public.get("/login")
def login_page(request: Request, next: str = "/runs", why: str = "") -> Response:
    """The sign-in form."""
    return ui_context(request).pages.render(request, "login.html", next=next, why=why,
                                            title="Sign in")


@public.post("/login")
async def login(request: Request) -> Response:
    """Check the key from the form; keep it in a cookie and go on to ``next``."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = (form.get("next") or ["/runs"])[0]
    if not target.startswith("/") or target.startswith("//"):
        target = "/runs"
    ctx = ui_context(request)
    try:
        ctx.auth.verify(key, "read")
    except Unauthorized as exc:
        return ctx.pages.render(request, "login.html", status_code=401, next=target,
                                why=str(exc), title="Sign in")
    response = RedirectResponse(_base(request) + target, status_code=303)
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict",
                        path=_base(request) or "/", max_age=30 * 86400)
    return response


@public.post("/logout")
def logout(request: Request) -> Response:
    """Forget the key."""
    response = RedirectResponse(_base(request) + "/login", status_code=303)
    response.delete_cookie(COOKIE, path=_base(request) or "/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    """The runs page."""
    return RedirectResponse(_base(request) + "/runs", status_code=307)


@router.get("/runs")
def runs_page(request: Request) -> Response:
    """The runs table: filters, sorting, paging, nested trials, compare selection."""
    ctx = ui_context(request)
    req = RunsRequest(dict(request.query_params))
    return ctx.pages.render(request, "runs.html", title="Runs", req=req,
                            **runs_table(ctx.yard, req))


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str) -> Response:
    """One run: params, metric curves, artifacts, environment, trials."""
    ctx = ui_context(request)
    data = run_detail(ctx.yard, run_id)
    return ctx.pages.render(request, "run.html", title=f"Run {data['run'].name}", **data)


@router.get("/runs/{run_id}/artifacts/{path:path}")
def artifact(request: Request, run_id: str, path: str) -> Response:
    """One logged file of a run, checked against its sha256 on the way out."""
    ctx = ui_context(request)
    run = ctx.yard.runs.get(run_id)
    found = next((a for a in run.artifacts if a.path == path), None)
    if found is None:
        raise NotFound(f"run {run.id[:8]} has no artifact {path!r}; it has "
                       f"{', '.join(a.path for a in run.artifacts) or 'none'}")
    local = ctx.yard.store.artifacts.open_verified(found.blob_sha256)
    return FileResponse(local, filename=path.rsplit("/", 1)[-1])


@router.get("/runs/{run_id}/metrics.csv")
def metrics_csv(request: Request, run_id: str, key: str | None = None) -> Response:
    """Every logged value of a run's metrics (or of ``key``) as CSV: ``key,step,value,
    timestamp``, by key, then step and logging order (the full history behind the run
    page's downsampled curves)."""
    runs = ui_context(request).yard.store.runs
    run = ui_context(request).yard.runs.get(run_id)
    keys = runs.metric_keys(run.id)
    if key is not None and key not in keys:
        raise NotFound(f"run {run.id[:8]} logged no metric {key!r}; it logged "
                       f"{', '.join(keys) or 'none'}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "step", "value", "timestamp"])
    for k in [key] if key is not None else keys:
        writer.writerows((m.key, m.step, repr(m.value), repr(m.timestamp))
                         for m in runs.metric_history(run.id, k))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{run.name}-{key or 'metrics'}") + ".csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{name}"'})


@router.get("/compare")
def compare_page(request: Request, ids: Annotated[list[str], Query()]) -> Response:
    """Runs side by side with overlaid curves."""
    ctx = ui_context(request)
    data = compare_runs(ctx.yard, check_ids(ids))
    return ctx.pages.render(request, "compare.html", title="Compare runs", **data)


@router.get("/datasets")
def datasets_page(request: Request) -> Response:
    """Every dataset."""
    ctx = ui_context(request)
    return ctx.pages.render(request, "datasets.html", title="Datasets",
                            datasets=datasets_overview(ctx.yard))


@router.get("/datasets/{name}")
def dataset_page(request: Request, name: str, version: int | None = None) -> Response:
    """A dataset's versions, schema, validation and users."""
    ctx = ui_context(request)
    return ctx.pages.render(request, "dataset.html", title=f"Dataset {name}",
                            **dataset_detail(ctx.yard, name, version))


@router.get("/models")
def models_page(request: Request) -> Response:
    """Every model."""
    ctx = ui_context(request)
    return ctx.pages.render(request, "models.html", title="Models",
                            models=models_overview(ctx.yard))


def _serving_versions(request: Request, name: str) -> dict[str, Any]:
    sampler = ui_context(request).sampler
    if sampler is None:
        return {}
    return {v: pts for (m, v), pts in sampler.series().items()
            if m == name and v != "all" and any(p.requests_per_s > 0 for p in pts)}


@router.get("/models/{name}")
def model_page(request: Request, name: str) -> Response:
    """A model's versions, lineage, aliases and their history; promote and roll back."""
    ctx = ui_context(request)
    data = model_detail(ctx.yard, name, serving=_serving_versions(request, name))
    can_change = not ctx.auth.enabled or (
        request.scope["modelyard_ui"]["key"] is not None
        and request.scope["modelyard_ui"]["key"].role == "admin")
    return ctx.pages.render(request, "model.html", title=f"Model {name}",
                            can_change=can_change, **data)


@router.get("/serving")
def serving_page(request: Request) -> Response:
    """Request rate, latency and errors over time per model and version."""
    ctx = ui_context(request)
    return ctx.pages.render(request, "serving.html", title="Serving",
                            **serving_overview(ctx.yard, ctx.sampler))


def _model_index(request: Request, kind: str) -> Response:
    ctx = ui_context(request)
    rows = []
    for m in ctx.yard.models.list():
        alerts = ctx.yard.monitor.alerts(m.name, status="open")
        windows = ctx.yard.store.monitoring.windows(m.name, limit=1)
        events = ctx.yard.store.loop.events(m.name, limit=1)
        rows.append({"name": m.name, "aliases": m.aliases, "open_alerts": len(alerts),
                     "last_window": windows[-1].window_end if windows else None,
                     "last_event": events[-1] if events else None})
    return ctx.pages.render(request, "model_index.html", title=kind.capitalize(),
                            kind=kind, rows=rows)


@router.get("/monitoring")
def monitoring_index(request: Request) -> Response:
    """Models with their open alerts and newest window."""
    return _model_index(request, "monitoring")


@router.get("/loop")
def loop_index(request: Request) -> Response:
    """Models with the loop's newest decision."""
    return _model_index(request, "loop")


@router.get("/models/{name}/monitor")
def monitor_page(request: Request, name: str) -> Response:
    """Drift per feature, histograms, accuracy on delayed labels, alerts."""
    ctx = ui_context(request)
    return ctx.pages.render(request, "monitor.html", title=f"Monitoring {name}",
                            **monitoring_detail(ctx.yard, name))


@router.get("/models/{name}/loop")
def loop_page(request: Request, name: str) -> Response:
    """The loop's audit timeline of a model."""
    ctx = ui_context(request)
    return ctx.pages.render(request, "loop.html", title=f"Loop {name}",
                            **loop_timeline(ctx.yard, name))

