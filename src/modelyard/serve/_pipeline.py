"""The predict pipeline: key check -> body -> validation -> micro-batch (-> log) -> answer.

A request for a model with an open rollout is routed first (see ``_routing``): a canary
share goes to the challenger, which the champion backs up on a failure or past
``canary_timeout_ms``; in the shadow stage the champion answers and the challenger
predicts the same rows beside it, fire and forget, logged with the alias ``shadow``.

This is the hot path: no database, no model load and no await between picking the version
that answers and queueing the rows, so a hot swap cannot slip in between. Rows are logged
per batch, as the batch's results come back (``_logged``): each request goes to its batcher
with a tag that says how to log it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

import numpy as np

from ..errors import InvalidInput, ModelyardError
from ._auth import model_of
from ._errors import ModelNotReady
from ._http import Head, array, dumps
from ._logged import Logged
from ._models import LoadedVersion, Result, ServedModel
from ._routing import RolloutRoute
from ._schemas import ParsedInput
from ._state import ServeState

__all__ = ["predict"]

_LOG = logging.getLogger("modelyard.serve")

# Shadow copies wait for a challenger slower than the traffic no further than this.
_SHADOW_MAX_PENDING = 256


async def predict(state: ServeState, head: Head, ref: str) -> bytes:
    """Answer a predict request for the served reference ``ref``.

    Args:
        state: the app's state.
        head: what the request's headers say, and its body (read here, after the key
            check).
        ref: the reference the path names.

    Returns:
        The JSON answer (its request id is ``head.request_id``).

    Raises:
        ModelyardError: the request's fault (401, 404, 413, 422) or a model still loading
            (503); counted in the error metrics before it leaves.
    """
    started = time.perf_counter()
    arrived = time.time()
    served: ServedModel | None = None
    try:
        state.keys.check(head.key, "predict", model=model_of(ref))
        served, wanted = state.table.find(ref)
        served.coming += 1
        try:
            body = await head.body(state.settings.max_body_bytes)
        finally:
            served.coming -= 1
        loaded = served.current
        if loaded is None:
            raise ModelNotReady(f"{served.ref} is still loading"
                                + (f" ({served.error})" if served.error else "")
                                + "; retry shortly, or wait for /ready")
        content_type = head.content_type
        parsed = None
        if loaded.input.decodes:  # image files: decoded in a worker thread, never on the loop
            loaded, parsed = await _parse_off_loop(served, loaded, body, content_type)
        if wanted is not None and loaded.version.version != wanted:
            raise ModelNotReady(f"{ref} is no longer served ({served.ref} moved to version "
                                f"{loaded.version.version})")
        if parsed is None:
            parsed = loaded.input.parse(body, content_type)
        loaded.screen.check(parsed)  # a poison row fails alone, not in a batch
        route = state.router.routes.get(served.name) if wanted is None else None
        if route is not None and route.routes(loaded, served.parsed.alias):
            return await _predict_routed(state, head.request_id, served, loaded, route,
                                         parsed, body, started, arrived)
        # No await between picking `loaded` and queueing: a swap cannot slip in between.
        future = loaded.batcher.submit(parsed, parsed.n,
                                       _tag(state, head.request_id, served.parsed.alias,
                                            started, arrived))
        predictions, proba = await _result(loaded, future)
    except ModelyardError as exc:
        state.metrics.observe_error(served.name if served else "", exc.http_status,
                                    type(exc).__name__)
        raise
    return _answer(state, served, loaded, head.request_id, predictions, proba, parsed.n,
                   started)


def _tag(state: ServeState, request_id: str, alias: str | None, started: float,
         arrived: float) -> Logged | None:
    """How the batch logs this request (``None``: not at all)."""
    if not state.log_predictions:
        return None
    return Logged(request_id, alias, started, arrived)


async def _parse_off_loop(served: ServedModel, loaded: LoadedVersion, body: bytes,
                          content_type: str | None) -> tuple[LoadedVersion, ParsedInput]:
    """Parse a body that may hold image files in a worker thread (Pillow decodes there), so a
    large image never stalls other requests. A swap while it ran: parse for the new version."""
    while True:
        parsed = await asyncio.to_thread(loaded.input.parse, body, content_type)
        current = served.current
        if current is None or current is loaded:
            return loaded, parsed
        loaded = current
        if not loaded.input.decodes:
            return loaded, loaded.input.parse(body, content_type)


async def _result(loaded: LoadedVersion, future: Awaitable[Result]) -> Result:
    try:
        return await future
    except ModelyardError:
        raise
    except Exception as exc:
        raise InvalidInput(f"{loaded.version.ref} could not predict this input "
                           f"({type(exc).__name__}: {exc})") from exc


def _answer(state: ServeState, served: ServedModel, loaded: LoadedVersion, request_id: str,
            predictions: np.ndarray[Any, Any], proba: np.ndarray[Any, Any] | None, rows: int,
            started: float) -> bytes:
    """The answer's JSON (the batch has logged the rows already)."""
    latency = time.perf_counter() - started
    version = loaded.version
    alias = served.parsed.alias
    answer: dict[str, Any] = {"model": version.model, "version": version.version,
                              "alias": alias, "request_id": request_id,
                              "predictions": array(predictions)}
    if proba is not None:
        answer["classes"] = loaded.classes
        answer["probabilities"] = array(proba)
    response = dumps(answer)
    state.metrics.observe_ok(version.model, version.version, latency, rows)
    return response


def _same_rows(challenger: LoadedVersion, champion: LoadedVersion, parsed: ParsedInput,
               body: bytes) -> ParsedInput:
    """The request's rows as the challenger takes them (parsed again if its inputs differ)."""
    if challenger.predictor.signature.inputs == champion.predictor.signature.inputs:
        return parsed
    return challenger.input.parse(body)


async def _predict_routed(state: ServeState, rid: str, served: ServedModel,
                          champion: LoadedVersion, route: RolloutRoute, parsed: ParsedInput,
                          body: bytes, started: float, arrived: float) -> bytes:
    """Answer a request for a model with an open rollout (see ``_routing``)."""
    challenger = route.challenger
    assert challenger is not None
    model, stage = champion.version.model, route.rollout.stage
    tag = _tag(state, rid, served.parsed.alias, started, arrived)
    if route.to_canary(rid):
        stats = route.challenger_stats
        try:
            rows = _same_rows(challenger, champion, parsed, body)
            # a canary that times out is cancelled: its batch does not log it
            future = challenger.batcher.submit(rows, rows.n, tag)
            predictions, proba = await asyncio.wait_for(
                future, state.settings.canary_timeout_ms / 1000)
        except Exception as exc:  # the champion answers instead: no failed request
            stats.fail(fallback=True)
            state.metrics.observe_challenger(model, challenger.version.version, stage,
                                             "fallback")
            _LOG.debug("canary %s fell back to the champion: %r", rid, exc)
        else:
            stats.observe(time.perf_counter() - started)
            route.remember(rid, challenger, predictions)
            return _answer(state, served, challenger, rid, predictions, proba, rows.n,
                           started)
        # after an await: answer with whatever the reference serves now (a swap may
        # have closed the champion's batcher meanwhile)
        if served.current is not None and served.current is not champion:
            champion = served.current
            parsed = champion.input.parse(body)
    future = champion.batcher.submit(parsed, parsed.n, tag)
    try:
        predictions, proba = await _result(champion, future)
    except ModelyardError:
        route.champion_stats.fail()
        raise
    route.champion_stats.observe(time.perf_counter() - started)
    route.remember(rid, champion, predictions)
    if stage == "shadow":
        _shadow(state, route, champion, parsed, body, rid, arrived)
    return _answer(state, served, champion, rid, predictions, proba, parsed.n, started)


def _shadow(state: ServeState, route: RolloutRoute, champion: LoadedVersion,
            parsed: ParsedInput, body: bytes, request_id: str, arrived: float) -> None:
    """Have the challenger predict the same rows, fire and forget; log them as 'shadow'."""
    challenger = route.challenger
    if challenger is None:
        return
    model, number = champion.version.model, challenger.version.version
    stats = route.challenger_stats
    if challenger.batcher.pending > _SHADOW_MAX_PENDING:
        state.metrics.observe_challenger(model, number, "shadow", "skipped")
        return
    try:
        rows = _same_rows(challenger, champion, parsed, body)
    except ModelyardError:
        stats.fail()
        state.metrics.observe_challenger(model, number, "shadow", "error")
        return
    sent = time.perf_counter()
    future = challenger.batcher.submit(rows, rows.n,
                                       _tag(state, request_id, "shadow", sent, arrived))

    def done(f: asyncio.Future[Result]) -> None:
        if f.cancelled():
            return
        if f.exception() is not None:
            stats.fail()
            state.metrics.observe_challenger(model, number, "shadow", "error")
            return
        predictions, _ = f.result()
        elapsed = time.perf_counter() - sent
        stats.observe(elapsed)
        route.remember(request_id, challenger, predictions)
        state.metrics.observe_challenger(model, number, "shadow", "ok", rows.n)

    future.add_done_callback(done)
