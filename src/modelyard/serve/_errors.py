"""Errors only the prediction service raises (subclasses of the package's hierarchy)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, StorageUnavailable, Unauthorized

__all__ = ["Forbidden", "ModelNotReady", "PayloadTooLarge", "RateLimited"]


class PayloadTooLarge(InvalidInput):
    """A request body or batch over the server's limits (413)."""

    http_status = 413


class ModelNotReady(StorageUnavailable):
    """A served model whose first version is still loading (503); retry shortly."""

    http_status = 503


class Forbidden(Unauthorized):
    """A valid key whose role or scope does not cover the route (403)."""

    http_status = 403


class RateLimited(InvalidInput):
    """A key over its requests per second (429); the answer says when to retry.

    Args:
        message: what happened and what to do.
        retry_after_s: whole seconds until a request would be accepted.
    """

    http_status = 429

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)

    @property
    def headers(self) -> dict[str, Any]:
        """The ``Retry-After`` header of the answer."""
        return {"retry-after": str(self.retry_after_s)}
