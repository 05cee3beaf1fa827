"""The service's own routes: ``/health``, ``/ready`` and ``/metrics`` (no key needed, so
they tell nothing of a model's inputs)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response

from ._http import json_response
from ._metrics import CONTENT_TYPE
from ._state import State

__all__ = ["router"]

router = APIRouter()


@router.get("/health", tags=["service"])
async def health(state: State) -> dict[str, Any]:
    """Alive: the process answers."""
    return {"status": "alive", "uptime_s": round(time.time() - state.started, 3)}


@router.get("/ready", tags=["service"])
async def ready(state: State) -> Response:
    """Ready (200) once every served model is loaded; 503 before.

    Answers ``{"ready": bool, "models": [{"ref", "model", "alias", "loaded", "version"},
    ...]}``: no input fields or signatures (``GET /v1/models`` shows those, with a key).
    With several workers it also has ``"workers": {"expected": n, "ready": k}``; ready
    once every worker has loaded its models (a worker being replaced later shows in
    ``ready`` but does not make the service unready).
    """
    models = [{k: d[k] for k in ("ref", "model", "alias", "loaded", "version", "error")
               if k in d} for d in state.describe()]
    body: dict[str, Any] = {"ready": state.table.ready, "models": models}
    if state.workers is not None:  # serve --workers N: ready once every worker is
        every, body["workers"] = state.workers.readiness()
        body["ready"] = body["ready"] and every
    return json_response(body, 200 if body["ready"] else 503)


@router.get("/metrics", tags=["service"], response_class=Response, responses={200: {
    "description": "Prometheus text format",
    "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(state: State) -> Response:
    """Prometheus metrics."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
