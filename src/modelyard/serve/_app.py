"""The prediction service as a FastAPI app: routes, the one error handler, the lifespan.

Prediction routes read the raw body and validate it with the version's own schema
(``_schemas``) instead of FastAPI's body parsing, so the OpenAPI schema per served reference
is attached by hand (``openapi_extra``) and kept current across hot swaps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._yard import Yard
from ..config import Settings
from ..errors import InvalidInput, ModelyardError, ValidationFailed
from ..monitor import PredictionLog
from ._auth import KeyRing, key_from_headers
from ._batching import MicroBatcher
from ._errors import ModelNotReady, PayloadTooLarge
from ._metrics import CONTENT_TYPE, ServeMetrics
from ._models import LoadedVersion, ModelTable, Result, ServedModel
from ._monitoring import LiveViews, add_monitor_routes
from ._routing import RolloutRoute, Router
from ._schemas import ParsedInput, output_schema

__all__ = ["ServeState", "create_app"]

_LOG = logging.getLogger("modelyard.serve")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

try:  # orjson serialises NumPy arrays directly, several times faster than json + tolist
    import orjson

    _NUMPY = orjson.OPT_SERIALIZE_NUMPY

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj, option=_NUMPY)

    def _array(values: np.ndarray[Any, Any]) -> Any:
        if values.dtype.kind in "biuf":
            return values if values.flags.c_contiguous else np.ascontiguousarray(values)
        return values.tolist()

except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a broken env usable

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    def _array(values: np.ndarray[Any, Any]) -> Any:
        return values.tolist()


class FeedbackItem(BaseModel):
    """The true label of one row of one answered request."""

    request_id: str = Field(min_length=1, max_length=64)
    label: Any
    row: int = Field(0, ge=0)


class FeedbackBody(BaseModel):
    """A feedback request: labels for rows of requests the service answered."""

    items: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


_FEEDBACK = TypeAdapter(FeedbackBody)


class ServeState:
    """Everything the routes share: the yard, served models, keys, log and metrics."""

    def __init__(self, yard: Yard, refs: list[str], settings: Settings,
                 log_root: Path | None) -> None:
        self.yard = yard
        self.settings = settings
        self.metrics = ServeMetrics()
        self.log_predictions = settings.log_predictions
        self.log = PredictionLog(
            log_root or settings.state_dir / "predictions",
            rotate_bytes=int(settings.log_rotate_mb * 1024 * 1024),
            rotate_s=settings.log_rotate_s,
            flush_interval_s=settings.log_flush_interval_s,
            max_queue_rows=settings.log_max_queue_rows)
        self.metrics.watch_log(lambda: (self.log.written_rows, self.log.dropped_rows,
                                        self.log.queued_rows))
        self.keys = KeyRing(yard.store.keys.list())
        self.table = ModelTable(yard.models, refs, max_rows=settings.max_rows_per_request,
                                make_batcher=self._batcher, on_swap=self._swapped)
        self.on_swap: Callable[[], None] | None = None
        self.started = time.time()
        self.live = LiveViews(lambda loaded: yard.monitor.sketches(loaded.version))
        self.router = Router(self.table, yard.models, yard.store.rollouts,
                             on_loaded=self.live.start)

    def _batcher(self, loaded: LoadedVersion) -> MicroBatcher[ParsedInput, Result]:
        name = loaded.version.model
        coming = [s for s in self.table.served.values() if s.name == name]

        def expected() -> int:
            return sum(s.coming for s in coming)

        return MicroBatcher(loaded.predict_batch,
                            max_batch_size=self.settings.max_batch_size,
                            max_wait_ms=self.settings.max_batch_wait_ms,
                            expected=expected,
                            on_batch=self.metrics.batch_observer(name, loaded.version.version),
                            name=f"{name}-v{loaded.version.version}",
                            thread_init=self._limit_threads)

    def _limit_threads(self) -> None:
        # OpenMP's limit is per calling thread: this caps the model's threads in the
        # batcher's thread only. Idle OpenMP workers spin, which on a small machine steals
        # the cores the event loop needs.
        if self.settings.predict_threads > 0:
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

            threadpool_limits(self.settings.predict_threads)

    def _swapped(self, served: ServedModel, loaded: LoadedVersion) -> None:
        self.metrics.loaded.clear()
        for s in self.table.served.values():
            if s.current is not None:
                self.metrics.loaded.labels(s.ref, str(s.current.version.version)).set(1)
        self.metrics.swaps.labels(served.ref).inc()
        self.live.start(loaded)
        if self.on_swap is not None:
            self.on_swap()

    async def refresh(self) -> list[str]:
        """Poll the registry for moved aliases, the key table for changes, and the store
        for open rollouts."""
        switched = await self.table.refresh()
        self.keys.replace(await asyncio.to_thread(self.yard.store.keys.list))
        await self.router.refresh()
        return switched

    async def poll(self) -> None:
        """Refresh every ``swap_poll_interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.swap_poll_interval_s)
            try:
                await self.refresh()
            except ModelyardError as exc:  # the database may be briefly away: keep serving
                _LOG.warning("registry poll failed: %s", exc.message)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise InvalidInput(f"Content-Length {length!r} is not a number")
        if int(length) > limit:
            raise PayloadTooLarge(f"the body has {int(length)} bytes; the limit is {limit} "
                                  "(MODELYARD_MAX_BODY_BYTES)")
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes "
                                  "(MODELYARD_MAX_BODY_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


async def _predict(state: ServeState, request: Request, ref: str) -> Response:
    started = time.perf_counter()
    arrived = time.time()
    served: ServedModel | None = None
    try:
        state.keys.check(key_from_headers(request.headers), "predict")
        served, wanted = state.table.find(ref)
        served.coming += 1
        try:
            body = await _read_body(request, state.settings.max_body_bytes)
        finally:
            served.coming -= 1
        loaded = served.current
        if loaded is None:
            raise ModelNotReady(f"{served.ref} is still loading"
                                + (f" ({served.error})" if served.error else "")
                                + "; retry shortly, or wait for /ready")
        if wanted is not None and loaded.version.version != wanted:
            raise ModelNotReady(f"{ref} is no longer served ({served.ref} moved to version "
                                f"{loaded.version.version})")
        parsed = loaded.input.parse(body)
        route = state.router.routes.get(served.name) if wanted is None else None
        if route is not None and route.routes(loaded, served.parsed.alias):
            return await _predict_routed(state, request, served, loaded, route, parsed,
                                         body, started, arrived)
        # No await between picking `loaded` and queueing: a swap cannot slip in between.
        future = loaded.batcher.submit(parsed, parsed.n)
        predictions, proba = await _result(loaded, future)
    except ModelyardError as exc:
        state.metrics.observe_error(served.name if served else "", exc.http_status,
                                    type(exc).__name__)
        raise
    return _answer(state, served, loaded, _request_id(request), parsed, predictions, proba,
                   started, arrived)


async def _result(loaded: LoadedVersion, future: Awaitable[Result]) -> Result:
    try:
        return await future
    except ModelyardError:
        raise
    except Exception as exc:
        raise InvalidInput(f"{loaded.version.ref} could not predict this input "
                           f"({type(exc).__name__}: {exc})") from exc


def _answer(state: ServeState, served: ServedModel, loaded: LoadedVersion, request_id: str,
            parsed: ParsedInput, predictions: np.ndarray[Any, Any],
            proba: np.ndarray[Any, Any] | None, started: float, arrived: float) -> Response:
    latency = time.perf_counter() - started
    version = loaded.version
    alias = served.parsed.alias
    answer: dict[str, Any] = {"model": version.model, "version": version.version,
                              "alias": alias, "request_id": request_id,
                              "predictions": _array(predictions)}
    if proba is not None:
        answer["classes"] = loaded.classes
        answer["probabilities"] = _array(proba)
    response = _json(answer, headers={"x-request-id": request_id})
    if state.log_predictions:
        state.log.append(loaded.log_schema, request_id,
                         parsed.matrix if parsed.matrix is not None else parsed.records,
                         predictions, proba, alias=alias, latency_ms=latency * 1000,
                         ts=arrived)
    state.metrics.observe_ok(version.model, version.version, latency, parsed.n)
    return response


def _same_rows(challenger: LoadedVersion, champion: LoadedVersion, parsed: ParsedInput,
               body: bytes) -> ParsedInput:
    """The request's rows as the challenger takes them (parsed again if its inputs differ)."""
    if challenger.predictor.signature.inputs == champion.predictor.signature.inputs:
        return parsed
    return challenger.input.parse(body)


# Shadow copies wait for a challenger slower than the traffic no further than this.
_SHADOW_MAX_PENDING = 256


async def _predict_routed(state: ServeState, request: Request, served: ServedModel,
                          champion: LoadedVersion, route: RolloutRoute, parsed: ParsedInput,
                          body: bytes, started: float, arrived: float) -> Response:
    """Answer a request for a model with an open rollout (see ``_routing``)."""
    request_id = _request_id(request)
    challenger = route.challenger
    assert challenger is not None
    model, stage = champion.version.model, route.rollout.stage
    if route.to_canary(request_id):
        stats = route.challenger_stats
        try:
            rows = _same_rows(challenger, champion, parsed, body)
            future = challenger.batcher.submit(rows, rows.n)
            predictions, proba = await asyncio.wait_for(
                future, state.settings.canary_timeout_ms / 1000)
        except Exception as exc:  # the champion answers instead: no failed request
            stats.fail(fallback=True)
            state.metrics.observe_challenger(model, challenger.version.version, stage,
                                             "fallback")
            _LOG.debug("canary %s fell back to the champion: %r", request_id, exc)
        else:
            stats.observe(time.perf_counter() - started)
            route.remember(request_id, challenger, predictions)
            return _answer(state, served, challenger, request_id, rows, predictions, proba,
                           started, arrived)
        # after an await: answer with whatever the reference serves now (a swap may
        # have closed the champion's batcher meanwhile)
        if served.current is not None and served.current is not champion:
            champion = served.current
            parsed = champion.input.parse(body)
    future = champion.batcher.submit(parsed, parsed.n)
    try:
        predictions, proba = await _result(champion, future)
    except ModelyardError:
        route.champion_stats.fail()
        raise
    route.champion_stats.observe(time.perf_counter() - started)
    route.remember(request_id, champion, predictions)
    if stage == "shadow":
        _shadow(state, route, champion, parsed, body, request_id, arrived)
    return _answer(state, served, champion, request_id, parsed, predictions, proba, started,
                   arrived)


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
    future = challenger.batcher.submit(rows, rows.n)

    def done(f: asyncio.Future[Result]) -> None:
        if f.cancelled():
            return
        if f.exception() is not None:
            stats.fail()
            state.metrics.observe_challenger(model, number, "shadow", "error")
            return
        predictions, proba = f.result()
        elapsed = time.perf_counter() - sent
        stats.observe(elapsed)
        route.remember(request_id, challenger, predictions)
        state.metrics.observe_challenger(model, number, "shadow", "ok", rows.n)
        if state.log_predictions:
            state.log.append(challenger.log_schema, request_id,
                             rows.matrix if rows.matrix is not None else rows.records,
                             predictions, proba, alias="shadow", latency_ms=elapsed * 1000,
                             ts=arrived)

    future.add_done_callback(done)


def _predict_doc(served: ServedModel) -> dict[str, Any]:
    loaded = served.current
    if loaded is None:
        return {}
    return {
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": loaded.input.request_schema()}}},
        "responses": {"200": {"description": "predictions", "content": {
            "application/json": {"schema": output_schema(loaded.predictor.signature)}}}},
    }


def _operation_id(ref: str) -> str:
    return "predict_" + re.sub(r"[^A-Za-z0-9_]", "_", ref)


def create_app(
    yard: Yard,
    refs: list[str],
    *,
    settings: Settings | None = None,
    log_root: str | Path | None = None,
) -> FastAPI:
    """The prediction service for ``refs``, loading them when it starts.

    Args:
        yard: the yard whose registry holds the models.
        refs: the references to serve (``fraud@champion``, ``fraud/versions/2``, ``churn``);
            each must resolve now.
        settings: batching, limits, polling and log settings (``yard.settings``).
        log_root: where the prediction log goes (``<state_dir>/predictions``).

    Returns:
        The FastAPI app; run it with uvicorn (see :func:`modelyard.serve.serve`).

    Raises:
        NotFound: a reference that names nothing.
        InvalidInput: no references, or one that is not a reference.

    Example:
        >>> app = create_app(modelyard.open(), ["fraud@champion"])  # doctest: +SKIP
    """
    from .. import __version__

    if not refs:
        raise InvalidInput("name at least one model to serve, e.g. fraud@champion")
    state = ServeState(yard, refs, settings or yard.settings,
                       Path(log_root) if log_root is not None else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.log.start()

        async def start() -> None:
            await state.table.load_all()
            # What exists now (modules, models) lives as long as the process: keep it out
            # of the cyclic GC's full collections, which otherwise stall requests.
            gc.collect()
            gc.freeze()
            await state.poll()

        task = asyncio.get_running_loop().create_task(start(), name="modelyard-models")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await state.router.close()
            await state.table.close()
            await asyncio.to_thread(state.log.close)

    app = FastAPI(title="modelyard prediction service", version=__version__,
                  lifespan=lifespan,
                  description="Predictions from registered model versions; request bodies "
                              "follow each version's signature.")
    app.state.modelyard = state

    @app.exception_handler(ModelyardError)
    async def _error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelyardError)
        return _json(exc.to_dict(), exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        name = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        message = (f"no route {request.method} {request.url.path}; see /docs"
                   if exc.status_code in (404, 405) else str(exc.detail))
        return _json({"error": name, "message": message}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _route_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                           for e in exc.errors())
        return _json(InvalidInput(f"bad request: {fields}").to_dict(), 422)

    def protected(role: str) -> Callable[[Request], None]:
        def check(request: Request) -> None:
            state.keys.check(key_from_headers(request.headers), role)
        return check

    @app.get("/health", tags=["service"])
    async def health() -> dict[str, Any]:
        """Alive: the process answers."""
        return {"status": "alive", "uptime_s": round(time.time() - state.started, 3)}

    @app.get("/ready", tags=["service"])
    async def ready() -> Response:
        """Ready (200) once every served model is loaded; 503 before."""
        body = {"ready": state.table.ready,
                "models": [s.describe() for s in state.table.served.values()]}
        return _json(body, 200 if body["ready"] else 503)

    @app.get("/metrics", tags=["service"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/models", tags=["models"])
    async def list_models(request: Request) -> dict[str, Any]:
        """The served references and the versions answering for them."""
        protected("predict")(request)
        return {"models": [s.describe() for s in state.table.served.values()]}

    @app.post("/v1/admin/refresh", tags=["admin"])
    async def refresh(request: Request) -> dict[str, Any]:
        """Check the registry now for moved aliases (and the key table for changes)."""
        protected("admin")(request)
        switched = await state.refresh()
        return {"switched": switched,
                "models": [s.describe() for s in state.table.served.values()]}

    @app.post("/v1/models/{name}/feedback", tags=["models"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": FeedbackBody.model_json_schema()}}}})
    async def feedback(name: str, request: Request) -> dict[str, Any]:
        """Store true labels for rows of answered requests (for accuracy monitoring).

        While a rollout is open, labels of requests its versions answered (or shadowed)
        recently also score those versions at once: ``labelled`` and ``accuracy`` (``mae``
        for a regressor) in ``/stats``. Answers ``{"model": name, "stored": n,
        "scored": m}``, ``scored`` counting the predictions scored (two per row a shadow
        challenger predicted too).
        """
        protected("predict")(request)
        served, _ = state.table.find(name.partition("@")[0])
        body = await _read_body(request, state.settings.max_body_bytes)
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
        stored = await asyncio.to_thread(state.yard.store.feedback.add, served.name, labels)
        route = state.router.routes.get(served.name)
        scored = route.score(labels) if route is not None else 0
        return {"model": served.name, "stored": stored, "scored": scored}

    @app.get("/v1/models/{name}/stats", tags=["models"])
    async def stats(name: str, request: Request) -> dict[str, Any]:
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
        protected("admin")(request)
        served, _ = state.table.find(name.partition("@")[0])
        return state.router.stats(served.name)

    @app.get("/v1/models/{name}/loop/history", tags=["loop"])
    async def loop_history(name: str, request: Request,
                           limit: int = Query(100, ge=1, le=10_000)) -> Response:
        """The loop's audit trail of a model, newest last (``yard.loop.history``).

        Answers ``{"model": name, "events": [{"at": ts, "kind": "rollout.canary",
        "message": "...", "data": {...}}, ...]}`` with the newest ``limit`` events.
        """
        protected("admin")(request)

        def read() -> list[dict[str, Any]]:
            events = state.yard.loop.history(name, limit=limit)
            if not events:
                state.yard.models.get_model(name)  # NotFound for a model that is not there
            return [{"at": e.at, "kind": e.kind, "message": e.message, "data": e.data}
                    for e in events]

        return _json({"model": name, "events": await asyncio.to_thread(read)})

    @app.get("/v1/loop/status", tags=["loop"])
    async def loop_status(request: Request) -> Response:
        """Where each model's loop stands (``yard.loop.status``).

        Answers ``{"models": [{"model": "fraud", "step": "canary", "cycle": "...",
        "champion": 1, "challenger": 2, "last": {...}, "updated_at": ts,
        "has_policy": true}, ...]}``.
        """
        protected("admin")(request)
        status = await asyncio.to_thread(state.yard.loop.status)
        return _json({"models": [dataclasses.asdict(s) for s in status]})

    add_monitor_routes(app, state, protected)

    def predict_route(ref: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await _predict(state, request, ref)
        return endpoint

    # One route per served reference, so the OpenAPI schema shows its real fields ...
    doc_routes: list[tuple[ServedModel, APIRoute]] = []
    for served in state.table.served.values():
        parsed = served.parsed
        path = (f"/v1/models/{parsed.name}/versions/{parsed.version}/predict"
                if parsed.version is not None else f"/v1/models/{served.ref}/predict")
        app.add_api_route(path, predict_route(served.ref), methods=["POST"],
                          tags=["predict"], operation_id=_operation_id(served.ref),
                          summary=f"Predict with {served.ref}", response_model=None)
        doc_routes.append((served, app.router.routes[-1]))  # type: ignore[arg-type]

    def document() -> None:
        for served, route in doc_routes:
            route.openapi_extra = _predict_doc(served)
        app.openapi_schema = None

    state.on_swap = document

    # ... and the general forms for anything else served.
    @app.post("/v1/models/{ref}/predict", tags=["predict"], response_model=None)
    async def predict(ref: str, request: Request) -> Response:
        """Predict with a served reference: ``name``, ``name@alias`` or ``name@N``.

        The body is one record (an object of feature values) or a list of records.
        """
        return await _predict(state, request, ref)

    @app.post("/v1/models/{name}/versions/{version}/predict", tags=["predict"],
              response_model=None)
    async def predict_version(name: str, version: int, request: Request) -> Response:
        """Predict with a version a served reference answers with now."""
        return await _predict(state, request, f"{name}/versions/{version}")

    return app
