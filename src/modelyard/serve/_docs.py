"""API docs that work offline: Swagger UI's files come from the installed
``swagger-ui-bundle`` package, never from a CDN (FastAPI's default ``/docs`` loads them from
one, so it is blank on a machine without internet). The prediction service and the dashboard
both serve their ``/docs`` this way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

__all__ = ["add_offline_docs", "openapi_30", "swagger_files"]


def swagger_files() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-bundle`` package."""
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return Path(swagger_ui_bundle.swagger_ui_path)


def openapi_30(node: Any) -> Any:
    """An OpenAPI 3.1 document (what FastAPI writes) in the 3.0 dialect that the Swagger UI
    of ``swagger-ui-bundle`` (4.x) draws: ``anyOf`` with ``null`` becomes ``nullable``,
    ``const`` an ``enum``, ``examples`` an ``example``, a numeric exclusive bound a flag."""
    if isinstance(node, list):
        return [openapi_30(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_30(v) for k, v in node.items()}
    if out.get("openapi", "").startswith("3.1"):
        out["openapi"] = "3.0.3"
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out[key]
            if len(rest) == 1 and isinstance(rest[0], dict):
                out = {**rest[0], **out}
            else:
                out[key] = rest
            out["nullable"] = True
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        out["nullable"] = len(types) < len(out["type"])
        out["type"] = types[0] if types else "string"
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("examples"), list) and "in" not in out and "schema" not in out:
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out[bound], bool):
            out[plain] = out[bound]
            out[bound] = True
    return out


def add_offline_docs(app: FastAPI, *, title: str,
                     guard: Callable[[Request], object] | None = None) -> None:
    """Serve ``/docs`` (Swagger UI, offline) and the document it draws on ``app``.

    Args:
        app: an app created with ``docs_url=None``.
        title: the page title.
        guard: called with each request first (to check a key), or ``None`` for open docs.

    Example:
        >>> add_offline_docs(FastAPI(docs_url=None), title="api")
    """

    async def openapi_doc(request: Request) -> JSONResponse:
        if guard is not None:
            guard(request)
        return JSONResponse(openapi_30(app.openapi()))

    async def docs(request: Request) -> HTMLResponse:
        if guard is not None:
            guard(request)
        base = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{base}/docs/openapi-3.0.json", title=title,
            swagger_js_url=f"{base}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{base}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{base}/swagger/favicon-32x32.png")

    app.add_api_route("/docs", docs, include_in_schema=False, methods=["GET"])
    app.add_api_route("/docs/openapi-3.0.json", openapi_doc, include_in_schema=False,
                      methods=["GET"])
    app.mount("/swagger", StaticFiles(directory=swagger_files()), name="swagger")
