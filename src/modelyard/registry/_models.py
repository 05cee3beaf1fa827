"""The models API of a yard."""

from __future__ import annotations

from ..store import Store

__all__ = ["Models"]


class Models:
    """Register, alias, load and delete model versions."""

    def __init__(self, store: Store) -> None:
        self._store = store
