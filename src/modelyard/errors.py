"""The one exception hierarchy of modelyard.

Every error a user can cause is a :class:`ModelyardError` whose message says what happened,
which value, and what to do. The REST API maps it to ``http_status``; the CLI prints one red
line and exits with ``exit_code``. Anything else is a bug.

::

    ModelyardError
    ├── NotFound            (404, exit 3)  no such dataset, run, model, version or alias
    ├── AlreadyExists       (409, exit 4)  a name that must be new is taken
    ├── Conflict            (409, exit 5)  the store's state forbids the change
    ├── InvalidInput        (422, exit 2)  a file, column, spec, value or argument is wrong
    │   └── ValidationFailed               data broke its schema; carries every violation
    ├── Unauthorized        (401, exit 6)  a missing or wrong key
    ├── Corrupted           (500, exit 7)  an artifact's bytes do not match their hash
    └── StorageUnavailable  (503, exit 8)  the database or artifact store cannot be reached
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Corrupted",
    "InvalidInput",
    "ModelyardError",
    "NotFound",
    "StorageUnavailable",
    "Unauthorized",
    "ValidationFailed",
]


class ModelyardError(Exception):
    """Root of every error a user of modelyard can cause.

    Example:
        >>> try:
        ...     raise NotFound("no model 'fraud'; create it with `modelyard train`")
        ... except ModelyardError as exc:
        ...     print(exc.exit_code)
        3
    """

    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the REST API answers with."""
        return {"error": type(self).__name__, "message": self.message}


class NotFound(ModelyardError):
    """A dataset, version, run, model or alias that does not exist."""

    http_status = 404
    exit_code = 3


class AlreadyExists(ModelyardError):
    """A name that must be new is already taken."""

    http_status = 409
    exit_code = 4


class Conflict(ModelyardError):
    """The change is refused because of the store's current state."""

    http_status = 409
    exit_code = 5


class InvalidInput(ModelyardError):
    """A file, column, spec, value or argument is wrong."""

    http_status = 422
    exit_code = 2


class ValidationFailed(InvalidInput):
    """Data broke the rules of its schema.

    Attributes:
        violations: one entry per broken rule, each a dict with ``column``, ``rule``,
            ``count`` and ``examples``.
    """

    def __init__(self, message: str, violations: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.violations = violations

    def to_dict(self) -> dict[str, Any]:
        """The JSON body, with every violation."""
        return {**super().to_dict(), "violations": self.violations}


class Unauthorized(ModelyardError):
    """A key is missing, wrong, or lacks the role the call needs."""

    http_status = 401
    exit_code = 6


class Corrupted(ModelyardError):
    """Stored bytes no longer match the hash they were stored under."""

    http_status = 500
    exit_code = 7


class StorageUnavailable(ModelyardError):
    """The metadata database or the artifact store cannot be reached."""

    http_status = 503
    exit_code = 8
