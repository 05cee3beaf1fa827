"""The loop's audit trail: every decision is an event with its reason."""

from __future__ import annotations

import logging
from typing import Any

from ..store import LoopEvent, Store

__all__ = ["Audit"]

_LOG = logging.getLogger("modelyard.loop")


class Audit:
    """Write and read a model's loop events.

    Kinds: ``trigger``, ``retrain.started``, ``retrain.finished``, ``retrain.failed``,
    ``gate.passed``, ``gate.rejected``, ``rollout.shadow``, ``rollout.canary``,
    ``promoted``, ``rolled_back``, ``loop.error``.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, model: str, kind: str, message: str, **data: Any) -> LoopEvent:
        """Append an event, and log it at INFO."""
        _LOG.info("%s %s: %s", model, kind, message)
        return self._store.loop.add_event(model, kind, message, data)

    def record_once(self, model: str, kind: str, cycle: str, message: str,
                    **data: Any) -> LoopEvent:
        """Append an event unless this cycle already has one of this kind (a resumed step
        does not write its decision twice)."""
        for event in self._store.loop.events(model, kind=kind, limit=20):
            if event.data.get("cycle") == cycle:
                return event
        return self.record(model, kind, message, cycle=cycle, **data)

    def history(self, model: str, *, limit: int | None = None) -> list[LoopEvent]:
        """The model's events, oldest first (the newest ``limit`` when given)."""
        return self._store.loop.events(model, limit=limit)
