"""API key checks of the prediction service, against an in-memory copy of the key table.

The copy is loaded at start and refreshed with the registry poll (``swap_poll_interval_s``),
so a check never touches the database: a new or revoked key takes effect within one poll.
When no key exists, every route is open (a fresh project on a laptop); as soon as one
exists, prediction and feedback routes need a ``predict`` or ``admin`` key and management
routes an ``admin`` key. Keys come in ``Authorization: Bearer <key>`` or ``X-API-Key``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import Unauthorized
from ..store import ApiKey

__all__ = ["KeyRing", "key_from_headers"]

_NOBODY = ApiKey(id="", name="", role="", key_hash="0" * 64, created_at=0.0)

_GRANTS = {"predict": {"predict", "admin"}, "admin": {"admin"}}


class KeyRing:
    """The active keys, by id, and the check each route makes.

    Example:
        >>> ring = KeyRing()
        >>> ring.check(None, "admin")  # no keys: open
    """

    def __init__(self, keys: list[ApiKey] | None = None) -> None:
        self._keys: dict[str, ApiKey] = {}
        self.replace(keys or [])

    def replace(self, keys: list[ApiKey]) -> None:
        """Swap in a fresh copy of the active keys."""
        self._keys = {k.id: k for k in keys if k.active}

    @property
    def enabled(self) -> bool:
        """Whether any key exists (and so every protected route needs one)."""
        return bool(self._keys)

    def check(self, key: str | None, role: str) -> ApiKey | None:
        """The key's record if it may call a route needing ``role``.

        Raises:
            Unauthorized: keys exist and this one is missing, unknown, revoked, wrong, or
                lacks the role.
        """
        keys = self._keys
        if not keys:
            return None
        if not key:
            raise Unauthorized(f"this route needs a {role} key: send 'Authorization: Bearer "
                               "<key>' (create one with `modelyard keys create`)")
        parts = ApiKey.split(key)
        record = keys.get(parts[0]) if parts else None
        # compare a hash even for an unknown id, so timing does not tell ids apart
        ok = (record or _NOBODY).matches(parts[1] if parts else key)
        if record is None or not ok:
            raise Unauthorized("the API key is not valid (unknown, revoked or mistyped)")
        if record.role not in _GRANTS[role]:
            raise Unauthorized(f"key {record.id} has role {record.role!r}; this route needs "
                               f"an {role} key")
        return record


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, if any."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("x-api-key") or None
