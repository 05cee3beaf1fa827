"""Metadata of datasets and their versions, and run lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["DatasetRepository"]


class DatasetRepository:
    """Reads and writes datasets and their versions, and run lineage."""

    def __init__(self, store: Store) -> None:
        self._store = store
