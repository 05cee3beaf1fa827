"""Metadata of runs, params, metrics, tags, artifacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["RunRepository"]


class RunRepository:
    """Reads and writes runs, params, metrics, tags, artifacts."""

    def __init__(self, store: Store) -> None:
        self._store = store
