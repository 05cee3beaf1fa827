"""API key checks of the prediction service, against an in-memory copy of the key table.

The copy is loaded at start and refreshed with the registry poll (``swap_poll_interval_s``),
so a check never touches the database: a new or revoked key takes effect within one poll.
Keys come in ``Authorization: Bearer <key>`` or ``X-API-Key``.

A project where no key was ever made is open (a laptop). Once one was made, every route but
``/health``, ``/ready`` and ``/metrics`` needs a key, for good: revoking the last key closes
the service (every call is a 401 that says so) rather than opening it. A key the service
knows but whose role (``store.GRANTS``) or scope (its model-name patterns) does not cover
the route is a 403; a key over its ``rate_per_s`` is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping

from ..errors import Unauthorized
from ..store import ApiKey
from ._errors import Forbidden, RateLimited

__all__ = ["KeyRing", "key_from_headers", "key_of", "model_of"]

_NOBODY = ApiKey(id="", name="", role="", key_hash="0" * 64, created_at=0.0)


class _Bucket:
    """A token bucket: ``rate`` requests per second, bursts of up to one second's worth."""

    __slots__ = ("at", "capacity", "rate", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.at = time.monotonic()

    def take(self) -> float:
        """Take one token; returns 0, or the seconds until one is there."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def model_of(ref: str) -> str:
    """The model name of a served reference (``fraud@champion``, ``fraud/versions/3``)."""
    return ref.partition("/versions/")[0].partition("@")[0]


class KeyRing:
    """The keys the service knows, and the check each route makes.

    Args:
        keys: every key of the project, revoked ones included (their existence is what
            keeps a project whose keys were all revoked closed).

    Example:
        >>> ring = KeyRing()
        >>> ring.check(None, "admin")  # no key ever made: open
    """

    def __init__(self, keys: list[ApiKey] | None = None) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._required = False
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.replace(keys or [])

    def replace(self, keys: list[ApiKey]) -> None:
        """Swap in a fresh copy of the project's keys (revoked ones included)."""
        self._required = self._required or bool(keys)
        self._keys = {k.id: k for k in keys if k.active}
        with self._lock:
            self._buckets = {i: b for i, b in self._buckets.items()
                             if i in self._keys and self._keys[i].rate_per_s == b.rate}

    @property
    def enabled(self) -> bool:
        """Whether routes need a key: a key was ever made in this project."""
        return self._required

    def check(self, key: str | None, need: str, *, model: str | None = None,
              every_model: bool = False) -> ApiKey | None:
        """The key's record if it may call a route needing ``need``.

        Args:
            key: the key the request carries.
            need: the role the route needs (``read``, ``predict``, ``deploy``, ``admin``).
            model: the model the route acts on; the key's scope must cover it.
            every_model: the route spans every model; the key must be scoped ``*``.

        Returns:
            The key's record, or ``None`` while the project never had a key.

        Raises:
            Unauthorized: no key, or one unknown, revoked or mistyped (401); every key of
                the project revoked (401, the service is closed).
            Forbidden: a valid key whose role or scope does not cover the route (403).
            RateLimited: the key is over its ``rate_per_s`` (429).
        """
        if not self._required:
            return None
        keys = self._keys
        if not keys:
            raise Unauthorized("every API key of this project is revoked, so the service "
                               "is closed to all calls; create a key with `modelyard keys "
                               "create --role admin` (it is picked up within one poll)")
        if not key:
            raise Unauthorized(f"this route needs a {need} key: send 'Authorization: Bearer "
                               "<key>' (create one with `modelyard keys create`)")
        parts = ApiKey.split(key)
        record = keys.get(parts[0]) if parts else None
        # compare a hash even for an unknown id, so timing does not tell ids apart
        ok = (record or _NOBODY).matches(parts[1] if parts else key)
        if record is None or not ok:
            raise Unauthorized("the API key is not valid (unknown, revoked or mistyped)")
        if not record.allows(need):
            raise Forbidden(f"key {record.id} has role {record.role!r}; this route needs a "
                            f"{need} key (or admin)")
        if model is not None and not record.covers(model):
            raise Forbidden(f"key {record.id} is scoped to {record.scope!r}, which does not "
                            f"cover model {model!r}")
        if every_model and not record.unscoped:
            raise Forbidden(f"key {record.id} is scoped to {record.scope!r}; this route spans "
                            "every model and needs a key scoped '*'")
        if record.rate_per_s is not None:
            self._throttle(record)
        return record

    def _throttle(self, record: ApiKey) -> None:
        assert record.rate_per_s is not None
        with self._lock:
            bucket = self._buckets.get(record.id)
            if bucket is None:
                bucket = self._buckets[record.id] = _Bucket(record.rate_per_s)
            wait = bucket.take()
        if wait:
            raise RateLimited(f"key {record.id} is over its limit of {record.rate_per_s:g} "
                              "requests per second; retry later", retry_after_s=math.ceil(wait))


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, if any."""
    return key_of(headers.get("authorization"), headers.get("x-api-key"))


def key_of(authorization: str | None, api_key: str | None) -> str | None:
    """The key in an ``Authorization: Bearer`` header, else in ``X-API-Key``, if any."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return api_key or None
