"""What every dashboard route shares: the yard, the key checks, the templates, the sampler."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..store import ApiKey
from ..yard import Yard
from ._auth import UiAuth
from ._render import Pages
from ._serving import ServingSampler

__all__ = ["UiContext", "admin", "reader", "ui_context"]


@dataclass
class UiContext:
    """The dashboard's shared objects (on ``app.state.ui``)."""

    yard: Yard
    auth: UiAuth
    pages: Pages
    sampler: ServingSampler | None


def ui_context(request: Request) -> UiContext:
    """The context of the app serving ``request``."""
    ctx: UiContext = request.app.state.ui
    return ctx


def _check(request: Request, role: str) -> ApiKey | None:
    ctx = ui_context(request)
    record = ctx.auth.check(request, role)
    request.scope["modelyard_ui"] = {"key": record, "auth_enabled": ctx.auth.enabled}
    return record


def reader(request: Request) -> ApiKey | None:
    """Dependency: the request carries a key that may read (when keys exist)."""
    return _check(request, "read")


def admin(request: Request) -> ApiKey | None:
    """Dependency: the request carries an admin key (when keys exist)."""
    return _check(request, "admin")
