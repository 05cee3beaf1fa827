"""Errors only the prediction service raises (subclasses of the package's hierarchy)."""

from __future__ import annotations

from ..errors import InvalidInput, StorageUnavailable

__all__ = ["ModelNotReady", "PayloadTooLarge"]


class PayloadTooLarge(InvalidInput):
    """A request body or batch over the server's limits (413)."""

    http_status = 413


class ModelNotReady(StorageUnavailable):
    """A served model whose first version is still loading (503); retry shortly."""

    http_status = 503
