"""True labels that arrive after a prediction was served, for accuracy monitoring."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ._db import Database
from ._schema import FeedbackRow

__all__ = ["Feedback", "FeedbackRepository"]


@dataclass(frozen=True)
class Feedback:
    """One true label for one row of one served request.

    Attributes:
        model: the model name.
        request_id: the request id the server answered with.
        row: the row's position in that request.
        label: the true label (any JSON value).
        at: when it was stored (epoch seconds).
    """

    model: str
    request_id: str
    row: int
    label: Any
    at: float


class FeedbackRepository:
    """Stores and reads feedback rows.

    Args:
        db: the database that holds the ``feedback`` table.

    Example:
        >>> store.feedback.add("fraud", [("3f2a...", 0, 1)])  # doctest: +SKIP
        1
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, model: str, items: Iterable[tuple[str, int, Any]]) -> int:
        """Store ``(request_id, row, label)`` items for ``model`` in one transaction.

        Returns:
            How many were stored.

        Raises:
            InvalidInput: a request id that is not 1-64 characters, a negative row, or a
                label that is not JSON.
        """
        now = time.time()
        rows: list[dict[str, Any]] = []
        for request_id, row, label in items:
            if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
                raise InvalidInput(f"request_id {request_id!r} must be 1-64 characters")
            if isinstance(row, bool) or not isinstance(row, int) or row < 0:
                raise InvalidInput(f"row {row!r} must be a non-negative integer")
            try:
                text = json.dumps(label)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"label {label!r} is not JSON: {exc}") from exc
            rows.append({"model": model, "request_id": request_id, "row": row,
                         "label_json": text, "at": now})
        if not rows:
            return 0

        def write(session: Session) -> int:
            session.execute(insert(FeedbackRow), rows)
            return len(rows)

        return self._db.write(write)

    def list(self, model: str, *, since: float | None = None,
             until: float | None = None) -> list[Feedback]:
        """Feedback for ``model``, oldest first, optionally in ``[since, until)``."""
        stmt = select(FeedbackRow).where(FeedbackRow.model == model)
        if since is not None:
            stmt = stmt.where(FeedbackRow.at >= since)
        if until is not None:
            stmt = stmt.where(FeedbackRow.at < until)
        with self._db.read() as session:
            return [Feedback(model=r.model, request_id=r.request_id, row=r.row,
                             label=json.loads(r.label_json), at=r.at)
                    for r in session.scalars(stmt.order_by(FeedbackRow.at, FeedbackRow.id))]
