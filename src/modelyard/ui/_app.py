"""The dashboard as a FastAPI app: pages, the JSON API, static files and offline API docs.

Everything the browser loads comes from this process: the dashboard's own CSS and script
(``ui/static``), and Swagger UI's files from the installed ``swagger-ui-bundle`` package for
``/docs``. No page links to a CDN, so the dashboard works on a machine without internet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ModelyardError, NotFound
from ..serve import add_offline_docs
from ..yard import Yard
from . import _api, _pages
from ._auth import UiAuth
from ._context import UiContext, reader
from ._render import Pages, error_response
from ._serving import ServingSampler

__all__ = ["create_ui_app", "mount_ui"]

STATIC = Path(__file__).parent / "static"


def _docs(app: FastAPI) -> None:
    add_offline_docs(app, title="modelyard dashboard API", guard=reader)


def create_ui_app(
    yard: Yard,
    *,
    server_urls: list[str] | None = None,
    local_metrics: dict[str, Callable[[], str]] | None = None,
    sample_interval_s: float = 5.0,
    key_refresh_s: float = 2.0,
) -> FastAPI:
    """The dashboard for ``yard``: runs, datasets, models, serving, monitoring and the loop.

    Args:
        yard: the yard to show.
        server_urls: prediction servers whose ``/metrics`` the serving page reads.
        local_metrics: ``name -> callable`` giving a ``/metrics`` text without HTTP (the
            server the dashboard is mounted in).
        sample_interval_s: seconds between reads of the servers' metrics.
        key_refresh_s: how long the cached list of API keys is trusted.

    Returns:
        The app; run it with uvicorn, or mount it with :func:`mount_ui`.

    Example:
        >>> app = create_ui_app(modelyard.open())  # doctest: +SKIP
    """
    sampler = (ServingSampler(server_urls, local=local_metrics, interval_s=sample_interval_s)
               if server_urls or local_metrics else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sampler is not None:
            sampler.start()
        try:
            yield
        finally:
            if sampler is not None:
                sampler.stop()

    app = FastAPI(title="modelyard dashboard", version="1",
                  description="What the dashboard shows, as JSON (a read key once keys "
                              "exist; moving an alias needs an admin key).",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    pages = Pages()
    app.state.ui = UiContext(yard=yard, auth=UiAuth(yard.store.keys, refresh_s=key_refresh_s),
                             pages=pages, sampler=sampler)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelyardError)
        return error_response(request, pages, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(request, pages, NotFound(
                f"the dashboard has no page {request.url.path!r}; start at the runs page"))
        return JSONResponse({"error": "HTTPError", "detail": exc.detail},
                            status_code=exc.status_code)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors())
        return JSONResponse({"error": "InvalidInput", "detail": problems}, status_code=422)

    app.add_exception_handler(ModelyardError, on_error)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _docs(app)
    app.include_router(_pages.public)
    app.include_router(_pages.router)
    app.include_router(_api.router)
    return app


def mount_ui(app: Any, yard: Yard, *, path: str = "/ui",
             metrics: Callable[[], bytes | str] | None = None, **options: Any) -> FastAPI:
    """Mount the dashboard at ``path`` of another ASGI app (the prediction server).

    Args:
        app: the host app (has ``mount``).
        yard: the yard to show.
        path: where the dashboard lives.
        metrics: the host server's ``/metrics`` text, read in-process for the serving page.
        **options: more :func:`create_ui_app` arguments.

    Returns:
        The mounted dashboard app.

    Example:
        >>> mount_ui(server_app, yard, metrics=state.metrics.render)  # doctest: +SKIP
    """
    local = None
    if metrics is not None:
        def read() -> str:
            text = metrics()
            return text.decode("utf-8") if isinstance(text, bytes) else text
        local = {"this server": read}
    ui = create_ui_app(yard, local_metrics=local, **options)
    app.mount(path, ui)
    # a mounted app's lifespan never runs, so the sampler starts here (a daemon thread)
    sampler = ui.state.ui.sampler
    if sampler is not None:
        sampler.start()
    return ui
