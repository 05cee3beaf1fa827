"""Monitoring in the prediction service: live sketches per loaded version, and the
management routes that read them and run ``yard.monitor`` for a served model.

Sketches are built off the request path: when a version loads (at start, on a hot swap, or
as a rollout's challenger) a background thread computes its reference profile
(``yard.monitor.sketches``) and attaches the sketches to the version; every predicted batch
is then counted into them by the sketch feeder's thread (``_models.SKETCH_FEEDER``), so a
wide input never slows an answer. A version registered without a dataset
version has no live view (the route says why).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel, Field

from ..errors import InvalidInput, ModelyardError, StorageUnavailable
from ._errors import ModelNotReady
from ._models import SKETCH_FEEDER, LoadedVersion

if TYPE_CHECKING:
    from ._app import ServeState

__all__ = ["CheckBody", "LiveViews", "add_monitor_routes"]

_LOG = logging.getLogger("modelyard.serve")
T = TypeVar("T")


class LiveViews:
    """Builds each loaded version's live sketches in a background thread.

    Args:
        build: makes the sketches of a version (``yard.monitor.sketches``); raising
            :class:`InvalidInput` means the version has no live view.
    """

    def __init__(self, build: Callable[[LoadedVersion], Any]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._state: dict[int, str] = {}  # version id -> "building" or why there is none

    def start(self, loaded: LoadedVersion) -> None:
        """Build ``loaded``'s sketches unless built or being built; returns at once."""
        key = loaded.version.id
        with self._lock:
            if loaded.sketches is not None or key in self._state:
                return
            self._state[key] = "building"
        threading.Thread(target=self._run, args=(loaded,), daemon=True,
                         name=f"modelyard-sketches-{loaded.version.version}").start()

    def _run(self, loaded: LoadedVersion) -> None:
        key = loaded.version.id
        try:
            loaded.sketches = self._build(loaded)
            outcome = None
        except ModelyardError as exc:
            outcome = exc.message
        except Exception as exc:  # a profile that cannot be built: no live view, say why
            _LOG.exception("live sketches of %s", loaded.version.ref)
            outcome = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if outcome is None:
                self._state.pop(key, None)
            else:
                self._state[key] = outcome

    def view(self, loaded: LoadedVersion) -> dict[str, Any]:
        """The sketches' JSON (see :meth:`FeatureSketches.to_dict`).

        Raises:
            ModelNotReady: still being built.
            InvalidInput: the version has no live view, and why.
        """
        sketches = loaded.sketches
        if sketches is not None:
            SKETCH_FEEDER.drain()  # count what has been served so far
            result: dict[str, Any] = sketches.to_dict()
            return result
        with self._lock:
            state = self._state.get(loaded.version.id)
        if state is None or state == "building":
            raise ModelNotReady(f"the live view of {loaded.version.ref} is still being built; "
                                "retry shortly")
        raise InvalidInput(f"{loaded.version.ref} has no live view: {state}")


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


def add_monitor_routes(app: FastAPI, state: ServeState,
                       protected: Callable[[str], Callable[[Request], None]]) -> None:
    """Add the monitoring management routes (admin key when keys exist)."""
    monitor = state.yard.monitor

    def served_version(name: str) -> LoadedVersion:
        served, _ = state.table.find(name)
        if served.current is None:
            raise ModelNotReady(f"{served.ref} is still loading; retry shortly")
        return served.current

    async def model_name(name: str) -> str:
        model = name.partition("@")[0]
        await _blocking(lambda: state.yard.models.get_model(model))
        return model

    @app.get("/v1/models/{name}/monitor/live", tags=["monitor"])
    async def live(name: str, request: Request) -> dict[str, Any]:
        """Drift of the last hour of served rows, from the answering version's live
        sketches (no log read): ``{"model", "version", "reference", "window_s", "rows",
        "drift", "prediction_drift"}``."""
        protected("admin")(request)
        loaded = served_version(name)
        return await _blocking(lambda: state.live.view(loaded))

    @app.get("/v1/models/{name}/monitor", tags=["monitor"])
    async def report(name: str, request: Request, window: str | None = None,
                     limit: int = Query(168, ge=1, le=10_000)) -> dict[str, Any]:
        """Stored monitoring windows (newest ``limit``) and open alerts of a model."""
        protected("admin")(request)
        model = await model_name(name)
        found = await _blocking(lambda: monitor.report(model, window=window, limit=limit))
        return found.to_dict()

    @app.post("/v1/models/{name}/monitor", tags=["monitor"])
    async def check(name: str, request: Request,
                    body: CheckBody | None = None) -> dict[str, Any]:
        """Run a monitoring pass now over this server's prediction log (written first, so
        it holds every prediction answered so far) and store its windows and alerts."""
        protected("admin")(request)
        model = await model_name(name)
        spec = body or CheckBody()
        own_url = str(request.base_url).rstrip("/")
        await asyncio.to_thread(state.log.rotate)
        found = await _blocking(lambda: monitor.check(
            model, window=spec.window, since=spec.since, until=spec.until,
            reference=spec.reference, log_root=state.log.root, server_url=own_url))
        return found.to_dict()

    @app.get("/v1/models/{name}/alerts", tags=["monitor"])
    async def alerts(name: str, request: Request, status: str | None = None
                     ) -> dict[str, Any]:
        """Alert incidents of a model, newest first; ``status`` ``open`` or ``resolved``."""
        protected("admin")(request)
        model = await model_name(name)
        found = await _blocking(lambda: monitor.alerts(model, status=status))
        return {"model": model, "alerts": [a.to_dict() for a in found]}

    @app.get("/v1/models/{name}/monitor/report.html", tags=["monitor"],
             response_class=Response)
    async def report_html(name: str, request: Request, window: str | None = None,
                          limit: int = Query(168, ge=1, le=10_000)) -> Response:
        """The stored windows as one self-contained HTML page."""
        protected("admin")(request)
        model = await model_name(name)
        html = await _blocking(lambda: monitor.html(
            monitor.report(model, window=window, limit=limit)))
        return Response(html, media_type="text/html; charset=utf-8")
