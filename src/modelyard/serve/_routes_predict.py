"""The predict routes: one per served reference, then the general forms.

The router is built per app around its state: these routes are the hot path, so each
endpoint holds the state and its reference itself instead of asking FastAPI's dependency
machinery for them on every request. The key check is the pipeline's first step, so a
refused request counts in the error metrics like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response

from ._openapi import operation_id, own_path
from ._pipeline import predict as _predict
from ._state import ROLE_MARK, ServeState

__all__ = ["predict_router"]


def predict_router(state: ServeState) -> APIRouter:
    """The predict routes of the references ``state`` serves.

    Args:
        state: the app's state, whose served references get a route each.

    Returns:
        A router; ``create_app`` puts its routes on the app's own router.
    """
    router = APIRouter()

    def predict_route(ref: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await _predict(state, request, ref)
        return endpoint

    # One route per served reference, so the OpenAPI schema shows its real fields ...
    for served in state.table.served.values():
        router.add_api_route(own_path(served), predict_route(served.ref), methods=["POST"],
                             tags=["predict"], operation_id=operation_id(served.ref),
                             summary=f"Predict with {served.ref}", response_model=None,
                             openapi_extra={ROLE_MARK: "predict"})

    # ... and the general forms for anything else served.
    @router.post("/v1/models/{ref}/predict", tags=["predict"], response_model=None,
                 openapi_extra={ROLE_MARK: "predict"})
    async def predict(ref: str, request: Request) -> Response:
        """Predict with a served reference: ``name``, ``name@alias`` or ``name@N``.

        The body is one record (an object of feature values) or a list of records.
        """
        return await _predict(state, request, ref)

    @router.post("/v1/models/{name}/versions/{version}/predict", tags=["predict"],
                 response_model=None, openapi_extra={ROLE_MARK: "predict"})
    async def predict_version(name: str, version: int, request: Request) -> Response:
        """Predict with a version a served reference answers with now."""
        return await _predict(state, request, f"{name}/versions/{version}")

    return router
