"""Templates, filters and error pages of the dashboard.

Templates are package data (``ui/templates``); every page extends ``base.html``, whose
links start with the mount point (``root_path``), so the same pages work at ``/`` under
``modelyard ui`` and at ``/ui`` inside ``modelyard serve --ui``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..errors import ModelyardError, Unauthorized
from ._charts import fmt

__all__ = ["Pages", "error_response"]


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


class Pages:
    """Renders the dashboard's templates with the request's mount point and sign-in state.

    Example:
        >>> pages = Pages()
        >>> pages.env.get_template("base.html") is not None
        True
    """

    def __init__(self) -> None:
        self.env = Environment(loader=PackageLoader("modelyard.ui", "templates"),
                               autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=_when, duration=_duration, fmt=fmt, size=_size,
                                pct=_pct, short=lambda s: (s or "")[:8])

    def render(self, request: Request, template: str, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        """The page ``template`` with ``context``, plus ``base`` (the mount point),
        ``request``, ``signed_in`` and ``auth_enabled``."""
        base = str(request.scope.get("root_path", "")).rstrip("/")
        state = request.scope.get("modelyard_ui", {})
        html = self.env.get_template(template).render(
            request=request, base=base, signed_in=state.get("key"),
            auth_enabled=state.get("auth_enabled", False), **context)
        return HTMLResponse(html, status_code=status_code)


def error_response(request: Request, pages: Pages, exc: ModelyardError) -> Response:
    """A JSON error for the API and scripts; a page (or the sign-in page) for browsers."""
    path = request.url.path
    base = str(request.scope.get("root_path", "")).rstrip("/")
    wants_json = "/api/" in path or "text/html" not in request.headers.get("accept", "")
    if wants_json:
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)},
                            status_code=exc.http_status)
    if isinstance(exc, Unauthorized):
        from urllib.parse import quote

        target = path[len(base):] if base and path.startswith(base) else path
        return RedirectResponse(f"{base}/login?next={quote(target)}&why={quote(str(exc))}",
                                status_code=303)
    return pages.render(request, "error.html", status_code=exc.http_status,
                        title=type(exc).__name__, message=str(exc))
