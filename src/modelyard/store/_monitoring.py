"""Monitoring records: reference profiles, window results, alert incidents, label reads."""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ._db import Database
from ._schema import AlertRow, FeedbackRow, MonitorWindowRow, ReferenceProfileRow

if TYPE_CHECKING:  # NumPy is imported where columns are built: opening a store needs none
    import numpy as np

__all__ = ["Alert", "LabelColumns", "MonitorWindow", "MonitoringRepository", "StoredProfile"]


@dataclass(frozen=True)
class StoredProfile:
    """A model version's reference statistics as stored (see ``modelyard.monitor``)."""

    model_version_id: int
    dataset_version_id: int | None
    profile: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class MonitorWindow:
    """One stored monitoring window: its time span, counts and full result."""

    id: int
    model: str
    version: int | None
    window_start: float
    window_end: float
    n_predictions: int
    n_labelled: int
    result: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class Alert:
    """One alert incident: opened when a rule broke, resolved when it cleared.

    Attributes:
        status: ``open`` or ``resolved``.
        subject: what broke the rule (a feature, ``latency_p99_ms``, ...).
        value: the value that opened it (later readings, and the one that resolved it, are
            in ``message``).
        opened_at: when the window that opened it was checked (epoch seconds; never later
            than the newest prediction seen).
        last_seen_at: end of the latest window that broke it.
        resolved_at: end of the window in which it cleared.
    """

    id: int
    model: str
    rule: str
    subject: str
    status: str
    value: float | None
    threshold: float | None
    message: str
    opened_at: float
    last_seen_at: float
    resolved_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what webhooks receive)."""
        return {"id": self.id, "model": self.model, "rule": self.rule,
                "subject": self.subject, "status": self.status, "value": self.value,
                "threshold": self.threshold, "message": self.message,
                "opened_at": self.opened_at, "last_seen_at": self.last_seen_at,
                "resolved_at": self.resolved_at}


@dataclass(frozen=True)
class LabelColumns:
    """Feedback labels of one model as columns, the latest label per (request, row)."""

    request_id: list[str]
    row: np.ndarray
    label: list[Any]
    at: np.ndarray


def _window(row: MonitorWindowRow) -> MonitorWindow:
    return MonitorWindow(id=row.id, model=row.model, version=row.version,
                         window_start=row.window_start, window_end=row.window_end,
                         n_predictions=row.n_predictions, n_labelled=row.n_labelled,
                         result=json.loads(row.result_json), created_at=row.created_at)


def _alert(row: AlertRow) -> Alert:
    return Alert(id=row.id, model=row.model, rule=row.rule, subject=row.subject,
                 status=row.status, value=row.value, threshold=row.threshold,
                 message=row.message, opened_at=row.opened_at,
                 last_seen_at=row.last_seen_at, resolved_at=row.resolved_at)


class MonitoringRepository:
    """Reads and writes the monitoring tables of revision 0004.

    Args:
        db: the database that holds them.

    Example:
        >>> store.monitoring.alerts("fraud", status="open")  # doctest: +SKIP
        []
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reference profiles ---------------------------------------------------------------

    def get_profile(self, model_version_id: int) -> StoredProfile | None:
        """The stored profile of a model version, or ``None``."""
        with self._db.read() as session:
            row = session.scalars(select(ReferenceProfileRow).where(
                ReferenceProfileRow.model_version_id == model_version_id)).first()
            if row is None:
                return None
            return StoredProfile(row.model_version_id, row.dataset_version_id,
                                 json.loads(row.profile_json), row.created_at)

    def put_profile(self, model_version_id: int, dataset_version_id: int | None,
                    profile: dict[str, Any]) -> StoredProfile:
        """Store a version's profile unless one is stored already; returns the stored one.

        Two processes profiling the same version at once both end up with the first one
        stored (the table allows one per version).
        """
        text = json.dumps(profile)
        now = time.time()

        def insert(session: Session) -> None:
            if session.scalars(select(ReferenceProfileRow.id).where(
                    ReferenceProfileRow.model_version_id == model_version_id)).first() is None:
                session.add(ReferenceProfileRow(model_version_id=model_version_id,
                                                dataset_version_id=dataset_version_id,
                                                profile_json=text, created_at=now))

        # Conflict: a concurrent writer stored it first, or the version is gone (below)
        with contextlib.suppress(Conflict):
            self._db.write(insert)
        stored = self.get_profile(model_version_id)
        if stored is None:
            raise NotFound(f"model version id {model_version_id} no longer exists")
        return stored

    def delete_profile(self, model_version_id: int) -> bool:
        """Forget a version's profile (it is recomputed on next use); whether one existed."""

        def drop(session: Session) -> bool:
            row = session.scalars(select(ReferenceProfileRow).where(
                ReferenceProfileRow.model_version_id == model_version_id)).first()
            if row is None:
                return False
            session.delete(row)
            return True

        return self._db.write(drop)

    # -- windows --------------------------------------------------------------------------

    def save_window(self, model: str, version: int | None, window_start: float,
                    window_end: float, n_predictions: int, n_labelled: int,
                    result: dict[str, Any]) -> MonitorWindow:
        """Store a window's result, replacing an earlier result for the same time span
        (a window evaluated again, e.g. after late labels arrived)."""
        text = json.dumps(_finite(result), allow_nan=False, default=_plain)
        now = time.time()

        values = {"version": version, "n_predictions": n_predictions,
                  "n_labelled": n_labelled, "result_json": text, "created_at": now}

        def upsert(session: Session) -> MonitorWindow:
            # One atomic statement on the window's unique key: two passes at once leave one
            # row (the later result), never two.
            insert = self._db.insert(MonitorWindowRow)
            session.execute(insert.values(model=model, window_start=window_start,
                                          window_end=window_end, **values)
                            .on_conflict_do_update(
                                index_elements=["model", "window_start", "window_end"],
                                set_=values))
            row = session.scalars(select(MonitorWindowRow).where(
                MonitorWindowRow.model == model, MonitorWindowRow.window_start == window_start,
                MonitorWindowRow.window_end == window_end)
                .execution_options(populate_existing=True)).one()
            return _window(row)

        return self._db.write(upsert)

    def windows(self, model: str, *, since: float | None = None, until: float | None = None,
                limit: int | None = None) -> list[MonitorWindow]:
        """Stored windows of ``model`` starting in ``[since, until)``, oldest first;
        with ``limit``, the newest ``limit`` of them."""
        stmt = select(MonitorWindowRow).where(MonitorWindowRow.model == model)
        if since is not None:
            stmt = stmt.where(MonitorWindowRow.window_start >= since)
        if until is not None:
            stmt = stmt.where(MonitorWindowRow.window_start < until)
        stmt = stmt.order_by(MonitorWindowRow.window_start.desc(),
                             MonitorWindowRow.window_end.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read() as session:
            return [_window(r) for r in reversed(session.scalars(stmt).all())]

    # -- alerts ---------------------------------------------------------------------------

    def alerts(self, model: str, *, status: str | None = None,
               limit: int = 1000) -> list[Alert]:
        """Alert incidents of ``model``, newest first, optionally only ``open`` or
        ``resolved`` ones."""
        stmt = select(AlertRow).where(AlertRow.model == model)
        if status is not None:
            stmt = stmt.where(AlertRow.status == status)
        with self._db.read() as session:
            return [_alert(r) for r in session.scalars(
                stmt.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc()).limit(limit))]

    def open_alert(self, model: str, rule: str, subject: str, *, value: float | None,
                   threshold: float | None, message: str, at: float) -> tuple[Alert, bool]:
        """Open an incident for ``(rule, subject)``, or touch the one already open.

        Returns:
            The incident, and whether it is new.
        """

        def upsert(session: Session) -> tuple[Alert, bool]:
            row = session.scalars(select(AlertRow).where(
                AlertRow.model == model, AlertRow.rule == rule, AlertRow.subject == subject,
                AlertRow.status == "open")).first()
            created = row is None
            if row is None:
                row = AlertRow(model=model, rule=rule, subject=subject, status="open",
                               value=value, threshold=threshold, opened_at=at,
                               resolved_at=None)
                session.add(row)
            row.message = message
            row.last_seen_at = at
            session.flush()
            return _alert(row), created

        return self._db.write(upsert)

    def resolve_alert(self, alert_id: int, *, at: float, value: float | None = None,
                      message: str | None = None) -> Alert:
        """Mark an incident resolved at ``at``; its ``value`` stays the one that opened it
        (``value`` here is only for callers that keep it in ``message``)."""

        def resolve(session: Session) -> Alert:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            row.status = "resolved"
            row.resolved_at = at
            if message is not None:
                row.message = message
            session.flush()
            return _alert(row)

        return self._db.write(resolve)

    # -- labels ---------------------------------------------------------------------------

    def labels(self, model: str, *, since: float | None = None) -> LabelColumns:
        """Feedback of ``model`` stored at or after ``since`` as columns; when a row was
        labelled more than once, the latest label wins."""
        stmt = select(FeedbackRow.request_id, FeedbackRow.row, FeedbackRow.label_json,
                      FeedbackRow.at).where(FeedbackRow.model == model)
        if since is not None:
            stmt = stmt.where(FeedbackRow.at >= since)
        latest: dict[tuple[str, int], tuple[str, float]] = {}
        with self._db.read() as session:
            for request_id, row, label, at in session.execute(
                    stmt.order_by(FeedbackRow.at, FeedbackRow.id)):
                latest[(request_id, row)] = (label, at)
        import numpy as np

        return LabelColumns(
            request_id=[k[0] for k in latest],
            row=np.fromiter((k[1] for k in latest), dtype=np.int64, count=len(latest)),
            label=[json.loads(v[0]) for v in latest.values()],
            at=np.fromiter((v[1] for v in latest.values()), dtype=np.float64,
                           count=len(latest)))


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they are stored as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.ndim == 0 \
            and value.dtype.kind == "f":  # a NumPy float scalar
        return _finite(float(value))
    return value


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
