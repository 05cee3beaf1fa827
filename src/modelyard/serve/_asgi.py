"""The predict routes answered straight from ASGI: the hot path without the framework.

FastAPI serves every other route, and documents the predict routes (``_routes_predict``
keeps them in the OpenAPI document and in a ``405``'s ``Allow``). A ``POST`` to a predict
path is taken before FastAPI's middleware stack, router, dependency solving and
``Request``/``Response`` objects, which cost more than everything modelyard itself does per
prediction (docs/benchmarks/serving-profile.md). The answers are the same: the pipeline
(``_pipeline``) is shared, errors leave as the same JSON with the same status and headers,
and anything a predict route would refuse as a route (another method, a version that is not
a number) is left to FastAPI, which answers it as before.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..errors import ModelyardError
from ._http import ClientGone, Head, error_answer
from ._pipeline import predict
from ._state import ServeState

__all__ = ["UVICORN_OPTIONS", "ServeApp", "predict_ref"]

_LOG = logging.getLogger("modelyard.serve")
_PREFIX = "/v1/models/"
_SUFFIX = "/predict"
_JSON = (b"content-type", b"application/json")
# How uvicorn runs a ServeApp, in one process or in each worker. Proxy headers are off in
# uvicorn because the app applies them itself, to every route but predict (ServeApp).
UVICORN_OPTIONS: dict[str, Any] = {
    "access_log": False, "lifespan": "on", "timeout_graceful_shutdown": 30,
    "server_header": False, "proxy_headers": False}
_INTERNAL = (b'{"error":"InternalError","message":"the server failed to answer this '
             b'prediction (a bug; its log says why); retry, or report it"}')


def predict_ref(path: str) -> str | None:
    """The reference a predict path names, or ``None`` for any other path.

    ``/v1/models/{ref}/predict`` names ``ref`` (``fraud``, ``fraud@champion``, ``fraud@3``)
    and ``/v1/models/{name}/versions/{N}/predict`` names ``name/versions/N``; a version that
    is not a plain number is not taken (FastAPI refuses it with a 422).

    Example:
        >>> predict_ref("/v1/models/fraud@champion/predict")
        'fraud@champion'
    """
    if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
        return None
    middle = path[len(_PREFIX):-len(_SUFFIX)]
    if not middle:
        return None
    if "/" not in middle:
        return middle
    name, sep, version = middle.partition("/versions/")
    if (sep and name and "/" not in name and version.isascii() and version.isdigit()):
        return f"{name}/versions/{int(version)}"
    return None


class ServeApp(FastAPI):
    """The prediction service's app: FastAPI, with the predict routes answered first.

    ``create_app`` builds it and sets :attr:`serve_state`; everything else is FastAPI's.
    The server runs it with uvicorn's proxy-header handling off, and the app applies it to
    every route but predict (``X-Forwarded-Proto`` and ``-For`` from the addresses in
    ``FORWARDED_ALLOW_IPS``, by default this machine, as uvicorn does): a prediction's answer
    reads neither the client's address nor the scheme, so the hot path skips the middleware.
    """

    serve_state: ServeState | None = None
    _forwarded: Any = None  # uvicorn's ProxyHeadersMiddleware around FastAPI (its own types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a ``POST`` to a predict path here; pass anything else to FastAPI."""
        if scope["type"] == "http" and scope["method"] == "POST" \
                and self.serve_state is not None:
            path: str = scope["path"]
            root = scope.get("root_path") or self.root_path
            if root and path.startswith(root):  # the route's path, as Starlette matches it
                path = path[len(root):]
            ref = predict_ref(path)
            if ref is not None:
                await _answer(self.serve_state, ref, scope, receive, send)
                return
        forwarded = self._forwarded
        if forwarded is None:
            framework: Any = super().__call__
            forwarded = self._forwarded = ProxyHeadersMiddleware(
                framework, os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"))
        await forwarded(scope, receive, send)


async def _answer(state: ServeState, ref: str, scope: Scope, receive: Receive,
                  send: Send) -> None:
    head = Head(scope["headers"], receive)
    extra: list[tuple[bytes, bytes]]
    try:
        body = await predict(state, head, ref)
        status, extra = 200, [(b"x-request-id", head.request_id.encode())]
    except ModelyardError as exc:
        status, body, extra = error_answer(exc)
    except ClientGone:
        return
    except Exception:
        _LOG.exception("predict %s failed", ref)
        status, body, extra = 500, _INTERNAL, []
    headers: list[Any] = [_JSON, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
