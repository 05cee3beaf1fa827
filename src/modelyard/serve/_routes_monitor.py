"""The monitoring routes of a served model: its live drift view, stored monitoring windows,
a monitoring pass on demand, alerts, and the HTML report (once a key was made: ``read``
keys read, a pass needs ``deploy``).

Everything but the live view runs ``yard.monitor`` in the threadpool, its foreign errors
turned into :class:`ModelyardError`s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from ..errors import InvalidInput, ModelyardError, StorageUnavailable
from ._errors import ModelNotReady
from ._models import LoadedVersion
from ._state import ServeState, State, guard

__all__ = ["CheckBody", "router"]

T = TypeVar("T")


class CheckBody(BaseModel):
    """A monitoring pass over the served model's prediction log (all fields optional)."""

    window: str | None = Field(default=None, description="hourly, daily or last:N")
    since: str | float | None = Field(default=None, description="ISO 8601 or epoch seconds")
    until: str | float | None = None
    reference: str | None = Field(default=None, description="a version (fraud@3) or "
                                                            "window:START/END")


async def _blocking(call: Callable[[], T]) -> T:
    """Run a blocking SDK call in the threadpool, with foreign errors as ModelyardError."""
    try:
        return await asyncio.to_thread(call)
    except ModelyardError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"monitoring failed: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise StorageUnavailable(f"monitoring could not read its data: {exc}") from exc


def _served_version(state: ServeState, name: str) -> LoadedVersion:
    served, _ = state.table.find(name)
    if served.current is None:
        raise ModelNotReady(f"{served.ref} is still loading; retry shortly")
    return served.current


async def _model_name(state: ServeState, name: str) -> str:
    """The model of ``name`` (``fraud@champion`` -> ``fraud``); NotFound when there is none."""
    model = name.partition("@")[0]
    await _blocking(lambda: state.yard.models.get_model(model))
    return model


router = APIRouter()


@router.get("/v1/models/{name}/monitor/live", tags=["monitor"], **guard("read"))
async def live(name: str, state: State) -> dict[str, Any]:
    """Drift of the last hour of served rows, from the answering version's live
    sketches (no log read): ``{"model", "version", "reference", "window_s", "rows",
    "drift", "prediction_drift"}``."""
    loaded = _served_version(state, name)
    return await _blocking(lambda: state.live.view(loaded))


@router.get("/v1/models/{name}/monitor", tags=["monitor"], **guard("read"))
async def report(name: str, state: State, window: str | None = None,
                 limit: int = Query(168, ge=1, le=10_000)) -> dict[str, Any]:
    """Stored monitoring windows (newest ``limit``) and open alerts of a model."""
    model = await _model_name(state, name)
    found = await _blocking(lambda: state.yard.monitor.report(model, window=window,
                                                              limit=limit))
    return found.to_dict()


@router.post("/v1/models/{name}/monitor", tags=["monitor"], **guard("deploy"))
async def check(name: str, request: Request, state: State,
                body: CheckBody | None = None) -> dict[str, Any]:
    """Run a monitoring pass now over this server's prediction log (written first, so
    it holds every prediction answered so far) and store its windows and alerts."""
    model = await _model_name(state, name)
    spec = body or CheckBody()
    own_url = str(request.base_url).rstrip("/")
    await asyncio.to_thread(state.log.rotate)
    found = await _blocking(lambda: state.yard.monitor.check(
        model, window=spec.window, since=spec.since, until=spec.until,
        reference=spec.reference, log_root=state.log.root, server_url=own_url))
    return found.to_dict()


@router.get("/v1/models/{name}/alerts", tags=["monitor"], **guard("read"))
async def alerts(name: str, state: State, status: str | None = None) -> dict[str, Any]:
    """Alert incidents of a model, newest first; ``status`` ``open`` or ``resolved``."""
    model = await _model_name(state, name)
    found = await _blocking(lambda: state.yard.monitor.alerts(model, status=status))
    return {"model": model, "alerts": [a.to_dict() for a in found]}


@router.get("/v1/models/{name}/monitor/report.html", tags=["monitor"],
            response_class=Response, **guard("read"))
async def report_html(name: str, state: State, window: str | None = None,
                      limit: int = Query(168, ge=1, le=10_000)) -> Response:
    """The stored windows as one self-contained HTML page."""
    model = await _model_name(state, name)
    monitor = state.yard.monitor
    html = await _blocking(lambda: monitor.html(
        monitor.report(model, window=window, limit=limit)))
    return Response(html, media_type="text/html; charset=utf-8")
