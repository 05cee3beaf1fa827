"""Who may see and change what in the dashboard: the project's API keys, read or admin.

As with the prediction service, a project that never had a key is open (a laptop). Once any key
exists, every page and read route needs a ``read`` or ``admin`` key, and every route that
changes state (moving an alias) an ``admin`` key. A browser signs in once at ``/login``: the
key goes into an HttpOnly, SameSite=Strict cookie; scripts send ``Authorization: Bearer
<key>`` or ``X-API-Key`` instead. State-changing routes also need the header
``X-Modelyard-UI`` (or a key in a header), which another site's form cannot send.

The active keys are cached for ``refresh_s`` seconds, so a page costs no key lookup; a new or
revoked key takes effect within that time.
"""

from __future__ import annotations

import threading
import time

from starlette.requests import Request

from ..errors import Unauthorized
from ..store import ApiKey, KeyRepository

__all__ = ["COOKIE", "GRANTS", "UiAuth"]

COOKIE = "modelyard_key"
#: which key roles may do what: ``read`` pages and data, ``admin`` changes
GRANTS = {"read": frozenset({"read", "admin"}), "admin": frozenset({"admin"})}
_NOBODY = ApiKey(id="", name="", role="", key_hash="0" * 64, created_at=0.0)


class UiAuth:
    """Checks the key a request carries against the project's active keys.

    Args:
        keys: the key repository of the store.
        refresh_s: how long the cached key list is trusted.

    Example:
        >>> auth = UiAuth(yard.store.keys)  # doctest: +SKIP
        >>> auth.check(request, "read")  # doctest: +SKIP
    """

    def __init__(self, keys: KeyRepository, *, refresh_s: float = 2.0) -> None:
        self._repo = keys
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._required = False
        self._loaded_at = float("-inf")

    def _active(self) -> dict[str, ApiKey]:
        now = time.monotonic()
        if now - self._loaded_at > self._refresh_s:
            with self._lock:
                if now - self._loaded_at > self._refresh_s:
                    self._keys = {k.id: k for k in self._repo.list() if k.active}
                    # fails closed, as the prediction service does: once a key was ever
                    # made, revoking the last one locks the dashboard instead of opening it
                    self._required = bool(self._keys) or self._repo.auth_required()
                    self._loaded_at = now
        return self._keys

    @property
    def enabled(self) -> bool:
        """Whether pages need a key: once any key was ever made (even if all are revoked)."""
        self._active()
        return self._required

    @staticmethod
    def key_of(request: Request) -> tuple[str | None, bool]:
        """The key a request carries, and whether it came in a header (not the cookie)."""
        auth = request.headers.get("authorization")
        if auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip(), True
        header = request.headers.get("x-api-key")
        if header:
            return header, True
        return request.cookies.get(COOKIE) or None, False

    def verify(self, key: str | None, role: str) -> ApiKey | None:
        """The record of ``key`` if it may do what ``role`` needs (``None`` when no keys
        exist).

        Raises:
            Unauthorized: keys exist and this one is missing, unknown, revoked or lacks the
                role.
        """
        keys = self._active()
        if not self._required:
            return None
        if not keys:
            raise Unauthorized("every API key of this project is revoked, so the dashboard is "
                               f"closed; create one with `modelyard keys create --role {role}`")
        if not key:
            raise Unauthorized(f"the dashboard needs a {role} key: sign in at /login (create "
                               f"one with `modelyard keys create --role {role}`)")
        parts = ApiKey.split(key)
        record = keys.get(parts[0]) if parts else None
        # hash even for an unknown id, so the answer's timing does not tell ids apart
        ok = (record or _NOBODY).matches(parts[1] if parts else key)
        if record is None or not ok:
            raise Unauthorized("the API key is not valid (unknown, revoked or mistyped); sign "
                               "in again at /login")
        if record.role not in GRANTS[role]:
            raise Unauthorized(f"key {record.id} has role {record.role!r}; this needs an "
                               f"{role} key (`modelyard keys create --role {role}`)")
        return record

    def check(self, request: Request, role: str) -> ApiKey | None:
        """Check the key of ``request`` for ``role``; a change (``admin``) made with the
        cookie must also carry the ``X-Modelyard-UI`` header.

        Raises:
            Unauthorized: see :meth:`verify`, or a cookie-signed change without the header.
        """
        key, in_header = self.key_of(request)
        record = self.verify(key, role)
        if role == "admin" and not in_header and record is not None \
                and request.headers.get("x-modelyard-ui") != "1":
            raise Unauthorized("a change from the browser must come from the dashboard's own "
                               "page (header X-Modelyard-UI: 1 missing)")
        return record
