"""HTTP plumbing of the prediction service: JSON out, bodies in, request ids, error answers.

Every error leaves as the same JSON shape, ``{"error": name, "message": ...}``: a
:class:`ModelyardError` with its own status, a missing route or method with a pointer to
``/docs``, and a route parameter FastAPI rejects as :class:`InvalidInput` (422).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InvalidInput, ModelyardError
from ._auth import key_of
from ._errors import PayloadTooLarge

__all__ = ["ERROR_HANDLERS", "ClientGone", "Head", "array", "dumps", "error_answer",
           "json_response", "read_body", "request_id", "route_methods"]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

try:  # orjson serialises NumPy arrays directly, several times faster than json + tolist
    import orjson

    _NUMPY = orjson.OPT_SERIALIZE_NUMPY

    def dumps(obj: Any) -> bytes:
        """``obj`` as compact JSON bytes; NumPy arrays included."""
        return orjson.dumps(obj, option=_NUMPY)

    def array(values: np.ndarray[Any, Any]) -> Any:
        """``values`` in the form :func:`dumps` writes fastest."""
        if values.dtype.kind in "biuf":
            return values if values.flags.c_contiguous else np.ascontiguousarray(values)
        return values.tolist()

except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a broken env usable

    def dumps(obj: Any) -> bytes:
        """``obj`` as compact JSON bytes."""
        return json.dumps(obj, separators=(",", ":")).encode()

    def array(values: np.ndarray[Any, Any]) -> Any:
        """``values`` as a list :func:`dumps` can write."""
        return values.tolist()


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """``body`` as an ``application/json`` response (encoded by :func:`dumps`)."""
    return Response(dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused past ``limit`` bytes before it is all read.

    Raises:
        InvalidInput: a ``Content-Length`` that is not a number.
        PayloadTooLarge: a body over ``limit`` (``MODELYARD_MAX_BODY_BYTES``).
    """
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


def request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane one, else a fresh random id."""
    return _request_id(request.headers.get("x-request-id"))


class _RandomIds:
    """Fresh random request ids, 128 bits each from the operating system's generator, read
    4 KiB at a time: one ``getrandom`` call per 256 ids instead of one per request (a
    system call costs tens of microseconds on a busy virtual machine)."""

    __slots__ = ("_hex", "_lock", "_next")

    _CHUNK = 4096

    def __init__(self) -> None:
        self._hex = ""
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            at = self._next
            if at >= len(self._hex):
                self._hex, at = os.urandom(self._CHUNK).hex(), 0
            self._next = at + 32
            return self._hex[at:at + 32]

    def forget(self) -> None:
        """Drop the unread ids (in a forked child: the parent would hand out the same)."""
        self._hex, self._next, self._lock = "", 0, threading.Lock()


_fresh_id = _RandomIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_id.forget)


def _request_id(given: str | None) -> str:
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return _fresh_id()


class ClientGone(Exception):
    """The client hung up before its body was read: nothing to answer."""


class Head:
    """What the predict pipeline reads of a request, taken from its ASGI headers in one
    pass, and its body, read on demand.

    Args:
        headers: the ASGI scope's ``headers`` (lower-case names, latin-1 bytes).
        receive: the ASGI ``receive`` callable the body comes from.

    Example:
        >>> head = Head(scope["headers"], receive)  # doctest: +SKIP
        >>> body = await head.body(limit=1_000_000)  # doctest: +SKIP
    """

    __slots__ = ("_length", "_receive", "content_type", "key", "request_id")

    def __init__(self, headers: Iterable[tuple[bytes, bytes]],
                 receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> None:
        seen: dict[bytes, bytes] = {}
        for name, value in headers:
            if name in _WANTED and name not in seen:  # the first one counts, as in Starlette
                seen[name] = value
        get = seen.get
        auth, api_key = get(b"authorization"), get(b"x-api-key")
        self.key = key_of(auth.decode("latin-1") if auth is not None else None,
                          api_key.decode("latin-1") if api_key is not None else None)
        ctype, given = get(b"content-type"), get(b"x-request-id")
        self.content_type = ctype.decode("latin-1") if ctype is not None else None
        self.request_id = _request_id(given.decode("latin-1") if given is not None else None)
        length = get(b"content-length")
        self._length = length.decode("latin-1") if length is not None else None
        self._receive = receive

    async def body(self, limit: int) -> bytes:
        """The request's body, refused past ``limit`` bytes before it is all read.

        Raises:
            InvalidInput: a ``Content-Length`` that is not a number.
            PayloadTooLarge: a body over ``limit`` (``MODELYARD_MAX_BODY_BYTES``).
            ClientGone: the client disconnected first.
        """
        length = self._length
        if length is not None:
            if not length.isdigit():
                raise InvalidInput(f"Content-Length {length!r} is not a number")
            if int(length) > limit:
                raise PayloadTooLarge(f"the body has {int(length)} bytes; the limit is "
                                      f"{limit} (MODELYARD_MAX_BODY_BYTES)")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] != "http.request":
                raise ClientGone()
            chunk: bytes = message.get("body", b"")
            if not chunks and not message.get("more_body", False):
                if len(chunk) > limit:
                    break
                return chunk  # the usual case: the whole body in one message
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        raise PayloadTooLarge(f"the body is over the limit of {limit} bytes "
                              "(MODELYARD_MAX_BODY_BYTES)")


_WANTED = frozenset({b"authorization", b"x-api-key", b"content-type", b"x-request-id",
                     b"content-length"})


def error_answer(exc: ModelyardError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The status, JSON body and headers (besides the content type) an error answers with."""
    headers: dict[str, str] = dict(getattr(exc, "headers", None) or {})
    if exc.http_status == 401:
        headers["www-authenticate"] = 'Bearer realm="modelyard"'
    return (exc.http_status, dumps(exc.to_dict()),
            [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()])


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelyardError)
    status, body, headers = error_answer(exc)
    return Response(body, status_code=status, media_type="application/json",
                    headers={k.decode("latin-1"): v.decode("latin-1") for k, v in headers})


def route_methods(routes: Iterable[Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """The path pattern and methods of each route (what ``Allow`` of a 405 is made from;
    ``create_app`` keeps them in ``app.state.route_methods``)."""
    return [(r.path_regex, frozenset(r.methods)) for r in routes
            if hasattr(r, "path_regex") and isinstance(getattr(r, "methods", None), set)]


def _allowed(request: Request) -> list[str]:
    """Every method some route of the app answers at this path (for ``Allow``)."""
    table = getattr(request.app.state, "route_methods", [])
    methods: set[str] = set()
    for pattern, route_methods_ in table:
        if pattern.match(request.url.path):
            methods |= route_methods_
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    name = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    message = (f"no route {request.method} {request.url.path}; see /docs"
               if exc.status_code in (404, 405) else str(exc.detail))
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    if exc.status_code == 405:
        allowed = _allowed(request)
        headers["allow"] = ", ".join(allowed)
        message = (f"{request.url.path} does not answer {request.method}; it answers "
                   f"{', '.join(allowed)} (see /docs)")
    return json_response({"error": name, "message": message}, exc.status_code,
                         headers or None)


async def _route_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                       for e in exc.errors())
    return json_response(InvalidInput(f"bad request: {fields}").to_dict(), 422)


#: The app's exception handlers (``FastAPI(exception_handlers=...)``).
ERROR_HANDLERS: dict[int | type[Exception],
                     Callable[[Request, Any], Coroutine[Any, Any, Response]]] = {
    ModelyardError: _error,
    StarletteHTTPException: _http_error,
    RequestValidationError: _route_error,
}
