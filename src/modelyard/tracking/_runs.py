"""The runs API of a yard."""

from __future__ import annotations

from ..store import Store

__all__ = ["Runs"]


class Runs:
    """Start, read, list and delete tracked runs."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def start(self, name: str | None = None, **kwargs: object) -> object:
        """Start a tracked run (being built)."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and end every open run."""
