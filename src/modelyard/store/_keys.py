"""API keys of the prediction service: created, listed, revoked, verified; stored hashed.

A key is ``my_<id>_<secret>``: ``id`` finds the row, ``secret`` is 32 random bytes
(URL-safe base64). Only ``sha256(secret)`` is stored.

Each key has a role, a scope and an optional rate limit. Roles, each granting what the ones
before it in :data:`GRANTS` need: ``read`` (read-only management routes and the dashboard),
``predict`` (prediction and feedback), ``deploy`` (read, and what moves traffic: refresh,
monitor passes) and ``admin`` (everything). The scope is one or more model-name patterns
(``fraud*``, ``fraud,churn``; ``*`` by default): the models a key reaches. Routes that span
every model need a key scoped ``*``.

Auth fails closed: once a project has had a key, it always needs one. Revoking every key
does not open the service again (:meth:`KeyRepository.auth_required`); create a new key
instead. A fast hash is enough here: the secret
is 256 random bits, not a password, so there is nothing to guess from its hash; a slow KDF
would only slow every request. Hashes are compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ._db import Database
from ._schema import ApiKeyRow

__all__ = ["GRANTS", "ROLES", "ApiKey", "KeyRepository", "hash_secret", "split_key"]

#: the key roles, least to most powerful
ROLES = ("read", "predict", "deploy", "admin")
#: what a route needs -> the key roles that have it
GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({"read", "deploy", "admin"}),
    "predict": frozenset({"predict", "admin"}),
    "deploy": frozenset({"deploy", "admin"}),
    "admin": frozenset({"admin"}),
    "any": frozenset(ROLES),  # any valid key (listing what is served)
}
_PREFIX = "my_"


def _check_scope(scope: str) -> str:
    patterns = [p.strip() for p in scope.split(",")] if isinstance(scope, str) else []
    if not patterns or any(not p or len(p) > 100 for p in patterns) or len(scope) > 200:
        raise InvalidInput(f"scope {scope!r} is not a list of model-name patterns; give e.g. "
                           "'fraud', 'fraud*' or 'fraud,churn' ('*' for every model)")
    return ",".join(patterns)


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored: never its secret.

    Attributes:
        id: the public part of the key, shown by ``modelyard keys list``.
        name: what it is for.
        role: ``read`` (the dashboard, read only), ``predict`` (prediction and feedback
            routes), ``deploy`` (read, refresh, monitor passes) or ``admin`` (everything).
        key_hash: sha256 of the secret part, hex.
        created_at: when it was created (epoch seconds).
        revoked_at: when it was revoked, or ``None``.
        scope: the model-name patterns it reaches, comma separated (``*``: every model).
        rate_per_s: the requests per second it may make (per server process), or ``None``.
    """

    id: str
    name: str
    role: str
    key_hash: str
    created_at: float
    revoked_at: float | None = None
    scope: str = "*"
    rate_per_s: float | None = None

    @property
    def active(self) -> bool:
        """Whether the key may still be used."""
        return self.revoked_at is None

    def allows(self, need: str) -> bool:
        """Whether the key's role may call a route needing ``need`` (see :data:`GRANTS`)."""
        return self.role in GRANTS.get(need, frozenset())

    @property
    def unscoped(self) -> bool:
        """Whether the key reaches every model (routes spanning all models need this)."""
        return "*" in self.scope.split(",")

    def covers(self, model: str) -> bool:
        """Whether ``model`` is inside the key's scope."""
        return any(fnmatch.fnmatchcase(model, p) for p in self.scope.split(","))

    def matches(self, secret: str) -> bool:
        """Whether ``secret`` is this key's secret part (compared in constant time)."""
        return hmac.compare_digest(self.key_hash, hash_secret(secret))

    @staticmethod
    def split(key: str) -> tuple[str, str] | None:
        """``(id, secret)`` of a full key ``my_<id>_<secret>``, or ``None``."""
        return split_key(key)


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret part."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a full key, or ``None`` when it is not shaped like one."""
    if not key.startswith(_PREFIX):
        return None
    key_id, sep, secret = key[len(_PREFIX):].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def _record(row: ApiKeyRow) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, role=row.role, key_hash=row.key_hash,
                  created_at=row.created_at, revoked_at=row.revoked_at,
                  scope=row.scope or "*", rate_per_s=row.rate_per_s)


class KeyRepository:
    """Creates, lists, revokes and verifies API keys.

    Args:
        db: the database that holds the ``api_keys`` table.

    Example:
        >>> record, key = store.keys.create("predict", name="checkout")  # doctest: +SKIP
        >>> store.keys.verify(key).role  # doctest: +SKIP
        'predict'
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, role: str, *, name: str = "", scope: str = "*",
               rate_per_s: float | None = None) -> tuple[ApiKey, str]:
        """Create a key; returns its record and the full key, which is shown only once.

        Args:
            role: ``read``, ``predict``, ``deploy`` or ``admin``.
            name: what it is for.
            scope: the model-name patterns it reaches (``fraud*``, ``fraud,churn``).
            rate_per_s: requests per second it may make per server process (``None``: no
                limit).

        Raises:
            InvalidInput: an unknown role, a bad scope or a rate that is not positive.
        """
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is not a key role; use one of {', '.join(ROLES)}")
        if not isinstance(name, str) or len(name) > 200:
            raise InvalidInput("a key name is a string of at most 200 characters")
        scope = _check_scope(scope)
        if rate_per_s is not None and not (0 < rate_per_s < float("inf")):
            raise InvalidInput(f"rate {rate_per_s!r} is not a positive number of requests per "
                               "second; leave it out for no limit")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row_values = {"id": key_id, "name": name, "role": role,
                      "key_hash": hash_secret(secret), "created_at": time.time(),
                      "revoked_at": None, "scope": scope, "rate_per_s": rate_per_s}

        def insert(session: Session) -> ApiKey:
            row = ApiKeyRow(**row_values)
            session.add(row)
            session.flush()
            return _record(row)

        return self._db.write(insert), f"{_PREFIX}{key_id}_{secret}"

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Every key, oldest first; revoked ones only when asked."""
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if not include_revoked:
            stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
        with self._db.read() as session:
            return [_record(r) for r in session.scalars(stmt)]

    def count_active(self) -> int:
        """How many keys are not revoked (auth is on when there is at least one)."""
        with self._db.read() as session:
            return int(session.scalar(select(func.count()).select_from(ApiKeyRow)
                                      .where(ApiKeyRow.revoked_at.is_(None))) or 0)

    def auth_required(self) -> bool:
        """Whether the service needs a key: once any key was made, even if all are revoked
        now (auth fails closed; a fresh project with no key ever made is open)."""
        with self._db.read() as session:
            return session.scalar(select(ApiKeyRow.id).limit(1)) is not None

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id; a revoked key stays listed with ``--all``.

        Raises:
            NotFound: no key has that id.
        """
        def update(session: Session) -> ApiKey:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFound(f"no API key with id {key_id!r}; see `modelyard keys list`")
            if row.revoked_at is None:
                row.revoked_at = time.time()
            return _record(row)

        return self._db.write(update)

    def verify(self, key: str) -> ApiKey | None:
        """The active key ``key`` is, or ``None`` (compared in constant time)."""
        parts = split_key(key)
        if parts is None:
            return None
        with self._db.read() as session:
            row = session.get(ApiKeyRow, parts[0])
            record = None if row is None else _record(row)
        if record is None or not record.active:
            return None
        return record if record.matches(parts[1]) else None
