"""The predict routes: one per served reference, then the general forms.

These routes are what the OpenAPI document shows and what a ``405`` lists, but a ``POST``
to one of their paths never reaches them in a running server: :class:`~._asgi.ServeApp`
answers it straight from ASGI, before FastAPI's machinery, with the same pipeline. They
answer only where the app's router is called directly (mounted elsewhere). The key check is
the pipeline's first step, so a refused request counts in the error metrics like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response

from ._http import Head
from ._openapi import operation_id, own_path
from ._pipeline import predict as _pipeline
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

    async def _predict(state: ServeState, request: Request, ref: str) -> Response:
        head = Head(request.scope["headers"], request.receive)
        body = await _pipeline(state, head, ref)
        return Response(body, media_type="application/json",
                        headers={"x-request-id": head.request_id})

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
