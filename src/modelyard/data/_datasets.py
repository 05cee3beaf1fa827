"""The datasets API of a yard."""

from __future__ import annotations

from ..store import Store

__all__ = ["Datasets"]


class Datasets:
    """Ingest, version, load, validate and split datasets."""

    def __init__(self, store: Store) -> None:
        self._store = store
