"""The management routes of served models: list, refresh, feedback, rollout stats, and the
loop's status and history (what the dashboard and the loop read).

Once a key was made, each route needs a role (``store.GRANTS``): listing any valid key (a
scoped key sees its models only), feedback ``predict``, stats and the loop's history and
status ``read``, refresh ``deploy``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from ..errors import Conflict, ValidationFailed
from ._auth import key_from_headers
from ._http import json_response, read_body
from ._state import State, guard

__all__ = ["FeedbackBody", "FeedbackItem", "router"]


_MAX_LABEL_BYTES = 1024


class FeedbackItem(BaseModel):
    """The true label of one row of one answered request: a number, a string, a boolean or a
    short list of them (a ranking's relevant items), at most 1 KB as JSON."""

    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    label: Any
    row: int = Field(0, ge=0, le=1_000_000)

    @field_validator("label")
    @classmethod
    def _small_label(cls, value: Any) -> Any:
        scalar = (str, int, float, bool)
        if value is None or not (isinstance(value, scalar) or (
                isinstance(value, list) and all(isinstance(v, scalar) for v in value))):
            raise ValueError("a label is a number, string or boolean, or a list of them")
        if len(json.dumps(value)) > _MAX_LABEL_BYTES:
            raise ValueError(f"a label is at most {_MAX_LABEL_BYTES} bytes as JSON")
        return value


class FeedbackBody(BaseModel):
    """A feedback request: labels for rows of requests the service answered."""

    items: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


_FEEDBACK = TypeAdapter(FeedbackBody)

router = APIRouter()


@router.get("/v1/models", tags=["models"], **guard("any"))
async def list_models(request: Request, state: State) -> dict[str, Any]:
    """The served references and the versions answering for them (those of its scope, for
    a key scoped to some models)."""
    key = state.keys.check(key_from_headers(request.headers), "any")
    return {"models": [d for d in state.describe() if key is None or key.covers(d["model"])]}


@router.post("/v1/admin/refresh", tags=["admin"], **guard("deploy", every_model=True))
async def refresh(state: State) -> dict[str, Any]:
    """Check the registry now for moved aliases (and the key table for changes)."""
    switched = await state.refresh()
    return {"switched": switched, "models": state.describe()}


# The body is read raw, as the predict routes do, and documented by hand.
@router.post("/v1/models/{name}/feedback", tags=["models"],
             **guard("predict", openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": FeedbackBody.model_json_schema()}}}}))
async def feedback(name: str, request: Request, state: State) -> dict[str, Any]:
    """Store true labels for rows of answered requests (for accuracy monitoring).

    Every item must name a request this service answered for the model (its answer's
    ``request_id``) and a row it had; otherwise nothing is stored and the answer is 422
    naming the unknown items (a label joined to no prediction monitors nothing).

    While a rollout is open, labels of requests its versions answered (or shadowed)
    recently also score those versions at once: ``labelled`` and ``accuracy`` (``mae``
    for a regressor) in ``/stats``. Answers ``{"model": name, "stored": n,
    "scored": m}``, ``scored`` counting the predictions scored (two per row a shadow
    challenger predicted too).
    """
    served, _ = state.table.find(name.partition("@")[0])
    body = await read_body(request, state.settings.max_body_bytes)
    try:
        parsed = _FEEDBACK.validate_json(body)
    except ValidationError as exc:
        violations = [{"column": ".".join(str(p) for p in e["loc"]), "rule": e["type"],
                       "message": e["msg"]} for e in exc.errors(include_url=False)]
        raise ValidationFailed(
            "feedback must be {\"items\": [{\"request_id\": ..., \"label\": ..., "
            "\"row\": 0}, ...]}: " + "; ".join(f"{v['column']}: {v['message']}"
                                              for v in violations), violations) from None
    labels = [(i.request_id, i.row, i.label) for i in parsed.items]
    await _check_answered(state, served.name, parsed.items)
    stored = await asyncio.to_thread(state.yard.store.feedback.add, served.name, labels)
    scored = await state.router.score(served.name, labels)
    return {"model": served.name, "stored": stored, "scored": scored}


async def _check_answered(state: State, model: str, items: list[FeedbackItem]) -> None:
    """Refuse, storing nothing, items whose request this service never answered (not in
    this process's newest answers, nor in the prediction log) or whose row it had not."""
    if not state.log_predictions:
        raise Conflict(
            "this server does not log its predictions (log_predictions is off), so labels "
            "cannot be joined to them and are not stored; serve with "
            "MODELYARD_LOG_PREDICTIONS=true to collect feedback")
    answered = await asyncio.to_thread(state.log.answered, model,
                                       {i.request_id for i in items})
    bad = [(n, i) for n, i in enumerate(items)
           if i.row >= answered.get(i.request_id, 0)]
    if not bad:
        return
    violations = [{"column": f"items.{n}.request_id" if i.request_id not in answered
                   else f"items.{n}.row",
                   "rule": "answered",
                   "message": f"request {i.request_id!r} was never answered for {model!r}"
                   if i.request_id not in answered else
                   f"request {i.request_id!r} had {answered[i.request_id]} rows, not row "
                   f"{i.row}"} for n, i in bad]
    shown = "; ".join(v["message"] for v in violations[:3])
    more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
    raise ValidationFailed(
        f"{len(bad)} of {len(items)} feedback items name no answered prediction: {shown}"
        f"{more}; nothing was stored. Send labels only for the request_id a prediction's "
        "answer carried (and its row numbers); a request another replica answered less "
        "than log_rotate_s ago is visible once its log part closes", violations)


@router.get("/v1/models/{name}/stats", tags=["models"], **guard("read"))
async def stats(name: str, state: State) -> dict[str, Any]:
    """Live per-version stats of a served model's open rollout (what the loop reads).

    From in-memory counters, reset when a rollout starts; ``rollout`` is ``null`` and
    ``versions`` empty when none is open::

        {"model": "fraud",
         "rollout": {"id": 3, "model": "fraud", "champion_version": 1,
                     "challenger_version": 2, "stage": "canary", "canary_share": 0.1,
                     "started_at": ts, "stage_started_at": ts, "ended_at": null,
                     "reason": "...", "challenger_loaded": true},
         "versions": {"1": {"role": "champion", "requests": 900, "errors": 0,
                            "fallbacks": 0,
                            "latency_ms": {"p50": 1.2, "p95": 3.4, "p99": 5.6},
                            "since": ts, "labelled": 120, "accuracy": 0.95},
                      "2": {"role": "challenger", ...}}}

    ``requests``: requests (shadow copies, for a shadow challenger) the version was
    asked to predict while the rollout was open; ``errors``: those it failed (raised,
    or for a canary, missed ``canary_timeout_ms``); ``fallbacks``: canary requests the
    champion answered instead (also counted in ``errors``; clients saw no failure).
    Latencies (ms, ``null`` before any) cover successful predictions: from request
    arrival for answered requests, from submission for shadow copies. ``labelled``:
    the version's predictions that feedback has labelled since (answered rows, and
    for a shadow challenger the rows it predicted beside the champion; the newest
    100,000 rows are remembered for this); ``accuracy``: the share equal to their
    label (``null`` before any); a regressor has ``mae`` instead, the mean absolute
    error. The rollout entry has ``error`` when the challenger could not be loaded.
    """
    served, _ = state.table.find(name.partition("@")[0])
    return await state.router.read_stats(served.name)


@router.get("/v1/models/{name}/loop/history", tags=["loop"], **guard("read"))
async def loop_history(name: str, state: State,
                       limit: int = Query(100, ge=1, le=10_000)) -> Response:
    """The loop's audit trail of a model, newest last (``yard.loop.history``).

    Answers ``{"model": name, "events": [{"at": ts, "kind": "rollout.canary",
    "message": "...", "data": {...}}, ...]}`` with the newest ``limit`` events.
    """
    def read() -> list[dict[str, Any]]:
        events = state.yard.loop.history(name, limit=limit)
        if not events:
            state.yard.models.get_model(name)  # NotFound for a model that is not there
        return [{"at": e.at, "kind": e.kind, "message": e.message, "data": e.data}
                for e in events]

    return json_response({"model": name, "events": await asyncio.to_thread(read)})


@router.get("/v1/loop/status", tags=["loop"], **guard("read", every_model=True))
async def loop_status(state: State) -> Response:
    """Where each model's loop stands (``yard.loop.status``).

    Answers ``{"models": [{"model": "fraud", "step": "canary", "cycle": "...",
    "champion": 1, "challenger": 2, "last": {...}, "updated_at": ts,
    "has_policy": true}, ...]}``.
    """
    status = await asyncio.to_thread(state.yard.loop.status)
    return json_response({"models": [dataclasses.asdict(s) for s in status]})
