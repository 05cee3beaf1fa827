"""The prediction service as a FastAPI app, composed from its parts.

``_state`` holds what the routes share and runs the lifespan (load, poll, hot swap);
``_pipeline`` answers predictions; ``_http`` turns errors into JSON; ``_openapi`` keeps the
document current; one router per route group: ``_routes_service`` (health, readiness,
metrics), ``_routes_models`` (management, feedback, loop), ``_routes_monitor`` and
``_routes_predict``.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import InvalidInput
from ..yard import Yard
from . import _routes_models, _routes_monitor, _routes_service
from ._asgi import ServeApp
from ._docs import add_offline_docs
from ._http import ERROR_HANDLERS, route_methods
from ._openapi import DESCRIPTION, TITLE, VERSION, PredictDocs, own_path
from ._routes_predict import predict_router
from ._state import ServeState

__all__ = ["create_app"]


def create_app(
    yard: Yard,
    refs: list[str],
    *,
    settings: Settings | None = None,
    log_root: str | Path | None = None,
) -> ServeApp:
    """The prediction service for ``refs``, loading them when it starts.

    Args:
        yard: the yard whose registry holds the models.
        refs: the references to serve (``fraud@champion``, ``fraud/versions/2``, ``churn``);
            each must resolve now.
        settings: batching, limits, polling and log settings (``yard.settings``).
        log_root: where the prediction log goes (``<state_dir>/predictions``).

    Returns:
        The app (FastAPI, answering predict calls straight from ASGI: ``_asgi``); run it
        with uvicorn (see :func:`modelyard.serve.serve`).

    Raises:
        NotFound: a reference that names nothing.
        InvalidInput: no references, or one that is not a reference.

    Example:
        >>> app = create_app(modelyard.open(), ["fraud@champion"])  # doctest: +SKIP
    """
    if not refs:
        raise InvalidInput("name at least one model to serve, e.g. fraud@champion")
    state = ServeState(yard, refs, settings or yard.settings, log_root)
    # The predict routes document the hot path and answer only where the router is called
    # directly: ServeApp answers a POST to their paths before FastAPI (``_asgi``).
    app = ServeApp(title=TITLE, version=VERSION, description=DESCRIPTION,
                  routes=predict_router(state).routes, docs_url=None, redoc_url=None,
                  lifespan=state.lifespan, exception_handlers=ERROR_HANDLERS)
    add_offline_docs(app, title=TITLE)  # Swagger UI from the installed package, no CDN
    app.state.modelyard = state
    app.serve_state = state
    app.include_router(_routes_service.router)
    app.include_router(_routes_models.router)
    app.include_router(_routes_monitor.router)
    app.state.route_methods = route_methods(
        [*app.router.routes, *_routes_service.router.routes, *_routes_models.router.routes,
         *_routes_monitor.router.routes])
    docs = PredictDocs(app, [(own_path(s), s) for s in state.table.served.values()])
    app.openapi = docs.openapi  # type: ignore[method-assign]
    state.on_swap = docs.refresh
    return app
