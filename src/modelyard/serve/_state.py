"""What the routes of one app share: the served models, keys, log, metrics and rollouts.

:class:`ServeState` loads the served versions when the app starts, polls the registry, the
key table and the open rollouts every ``swap_poll_interval_s``, and hot-swaps a reference
whose alias moved. Routes reach it through FastAPI dependencies: :func:`serve_state`, and
:func:`guard`, the dependency (and OpenAPI mark) that checks the caller's key for the role
a route needs (the role matrix: ``store.GRANTS``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from ..config import Settings
from ..errors import ModelyardError
from ..monitor import PredictionLog
from ..yard import Yard
from ._auth import KeyRing, key_from_headers, model_of
from ._batching import MicroBatcher
from ._logged import log_batch
from ._metrics import ServeMetrics
from ._models import LoadedVersion, ModelTable, Result, ServedModel
from ._monitoring import LiveViews
from ._routing import Router
from ._schemas import ParsedInput
from ._shared import Workers

__all__ = ["ROLE_MARK", "ServeState", "State", "guard", "require", "serve_state"]

#: the OpenAPI extension that names the role an operation needs (read by ``_openapi``)
ROLE_MARK = "x-modelyard-role"

_LOG = logging.getLogger("modelyard.serve")


class ServeState:
    """Everything the routes share: the yard, served models, keys, log and metrics.

    Args:
        yard: the yard whose registry holds the models.
        refs: the references to serve; each must resolve now.
        settings: batching, limits, polling and log settings.
        log_root: where the prediction log goes (``<state_dir>/predictions``).

    Raises:
        NotFound: a reference that names nothing.
    """

    def __init__(self, yard: Yard, refs: list[str], settings: Settings,
                 log_root: str | Path | None) -> None:
        self.yard = yard
        self.settings = settings
        self.metrics = ServeMetrics()
        self.log_predictions = settings.log_predictions
        self.log = PredictionLog(
            log_root or settings.log_dir or settings.state_dir / "predictions",
            rotate_bytes=int(settings.log_rotate_mb * 1024 * 1024),
            rotate_s=settings.log_rotate_s,
            flush_interval_s=settings.log_flush_interval_s,
            max_queue_rows=settings.log_max_queue_rows)
        self.metrics.watch_log(lambda: (self.log.written_rows, self.log.dropped_rows,
                                        self.log.queued_rows))
        self.keys = KeyRing(yard.store.keys.list(include_revoked=True))
        self.table = ModelTable(yard.models, refs, max_rows=settings.max_rows_per_request,
                                max_image_pixels=settings.max_image_pixels,
                                make_batcher=self._batcher, on_swap=self._swapped)
        #: called after every swap (the app re-documents the predict routes)
        self.on_swap: Callable[[], None] | None = None
        self.started = time.time()
        self.live = LiveViews(lambda loaded: yard.monitor.sketches(loaded.version))
        self.router = Router(self.table, yard.models, yard.store.rollouts,
                             on_loaded=self.live.start)
        #: one worker's view of the others in ``serve --workers N`` (``None`` when alone)
        self.workers: Workers | None = None

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
                            on_done=partial(log_batch, self.log, loaded.log_schema),
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
        self.metrics.show_loaded([(s.ref, s.current.version.version)
                                  for s in self.table.served.values() if s.current is not None])
        self.metrics.swaps.labels(served.ref).inc()
        self.live.start(loaded)
        if self.on_swap is not None:
            self.on_swap()

    def describe(self) -> list[dict[str, Any]]:
        """Each served reference and the version answering for it (``ServedModel.describe``)."""
        return [s.describe() for s in self.table.served.values()]

    async def refresh(self) -> list[str]:
        """Poll the registry for moved aliases, the key table for changes, and the store
        for open rollouts; returns the references that switched versions."""
        switched = await self.table.refresh()
        self.keys.replace(await asyncio.to_thread(self.yard.store.keys.list,
                                                  include_revoked=True))
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

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """The app's lifespan: start the log, load every served version in the background
        and poll; at the end stop polling, close the rollouts, the models and the log
        (flushing every logged prediction)."""
        self.log.start()

        async def start() -> None:
            await self.table.load_all()
            # What exists now (modules, models) lives as long as the process: keep it out
            # of the cyclic GC's full collections, which otherwise stall requests.
            gc.collect()
            gc.freeze()
            await self.poll()

        task = asyncio.get_running_loop().create_task(start(), name="modelyard-models")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.router.close()
            await self.table.close()
            await asyncio.to_thread(self.log.close)


# Dependencies are coroutines: FastAPI would run plain functions in its threadpool.


async def serve_state(request: Request) -> ServeState:
    """The app's :class:`ServeState` (a FastAPI dependency)."""
    state: ServeState = request.app.state.modelyard
    return state


#: A route parameter that receives the app's state.
State = Annotated[ServeState, Depends(serve_state)]


def require(need: str, *, every_model: bool = False
            ) -> Callable[[Request, ServeState], Awaitable[None]]:
    """A dependency that checks the caller's key for the role ``need`` and, on routes with a
    ``{name}``, the key's scope for that model.

    Args:
        need: ``read``, ``predict``, ``deploy``, ``admin`` or ``any`` (see ``store.GRANTS``).
        every_model: the route spans every model (the key must be scoped ``*``).

    Raises:
        Unauthorized: no key, an unknown one, or the project's keys all revoked (401).
        Forbidden: a key whose role or scope does not cover the route (403).
        RateLimited: a key over its rate (429).
    """
    async def dependency(request: Request, state: State) -> None:
        name = request.path_params.get("name")
        state.keys.check(key_from_headers(request.headers), need,
                         model=model_of(name) if isinstance(name, str) else None,
                         every_model=every_model)

    return dependency


def guard(need: str, *, every_model: bool = False,
          openapi_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Route decorator arguments that require ``need`` (:func:`require`) and say so in the
    OpenAPI document (``security`` and the 401/403/429 answers, added by ``_openapi``).

    Example:
        >>> @router.get("/v1/models/{name}/stats", **guard("read"))  # doctest: +SKIP
    """
    return {"dependencies": [Depends(require(need, every_model=every_model))],
            "openapi_extra": {**(openapi_extra or {}), ROLE_MARK: need}}
