"""Metadata of models, versions and aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["ModelRepository"]


class ModelRepository:
    """Reads and writes models, versions and aliases."""

    def __init__(self, store: Store) -> None:
        self._store = store
