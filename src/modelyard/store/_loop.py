"""The loop's records: its audit events, its resumable state per model, and leases.

A lease is a named row with a holder and an expiry; whoever holds an unexpired lease acts,
everybody else waits. Taking one is a single write transaction (SQLite's write lock, a
PostgreSQL row lock), so two processes can never both hold it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ._db import Database
from ._schema import LeaseRow, LoopEventRow, LoopStateRow, ModelRow, ModelVersionRow

__all__ = ["Lease", "LoopEvent", "LoopRepository", "LoopState"]


@dataclass(frozen=True)
class LoopEvent:
    """One decision of the loop, with its reason.

    Attributes:
        kind: what happened, e.g. ``trigger``, ``retrain.finished``, ``gate.rejected``,
            ``rollout.canary``, ``promoted``, ``rolled_back``.
        message: the reason in words.
        data: the numbers behind it.
        at: when (epoch seconds).
    """

    id: int
    model: str
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


@dataclass(frozen=True)
class LoopState:
    """Where one model's loop stands (a JSON document) and when it last changed."""

    model: str
    state: dict[str, Any]
    updated_at: float


@dataclass(frozen=True)
class Lease:
    """A named lease held by ``holder`` until ``expires_at``."""

    name: str
    holder: str
    expires_at: float


def _event(row: LoopEventRow) -> LoopEvent:
    return LoopEvent(id=row.id, model=row.model, kind=row.kind, message=row.message,
                     data=json.loads(row.data_json or "{}"), at=row.at)


class LoopRepository:
    """Reads and writes loop events, loop state and leases.

    Args:
        db: the database that holds them.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- events -------------------------------------------------------------------------

    def add_event(self, model: str, kind: str, message: str,
                  data: dict[str, Any] | None = None, *, at: float | None = None) -> LoopEvent:
        """Append one event to the audit trail."""
        text = json.dumps(data or {}, default=str)

        def add(session: Session) -> LoopEvent:
            row = LoopEventRow(model=model, kind=kind[:32], message=message, data_json=text,
                               at=time.time() if at is None else at)
            session.add(row)
            session.flush()
            return _event(row)

        return self._db.write(add)

    def events(self, model: str | None = None, *, kind: str | None = None,
               since: float | None = None, limit: int | None = None) -> list[LoopEvent]:
        """Events, oldest first; ``limit`` keeps the newest that many."""
        query = select(LoopEventRow)
        if model is not None:
            query = query.where(LoopEventRow.model == model)
        if kind is not None:
            query = query.where(LoopEventRow.kind == kind)
        if since is not None:
            query = query.where(LoopEventRow.at >= since)
        query = query.order_by(LoopEventRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as session:
            return [_event(r) for r in reversed(list(session.scalars(query)))]

    # -- state --------------------------------------------------------------------------

    def state(self, model: str) -> LoopState | None:
        """The stored state of ``model``'s loop, if any."""
        with self._db.read() as session:
            row = session.get(LoopStateRow, model)
            return None if row is None else LoopState(row.model, json.loads(row.state_json),
                                                      row.updated_at)

    def states(self) -> list[LoopState]:
        """The stored state of every model's loop, by model name."""
        with self._db.read() as session:
            rows = session.scalars(select(LoopStateRow).order_by(LoopStateRow.model))
            return [LoopState(r.model, json.loads(r.state_json), r.updated_at) for r in rows]

    def save_state(self, model: str, state: dict[str, Any]) -> LoopState:
        """Replace the stored state of ``model``'s loop."""
        text = json.dumps(state, default=str)

        def save(session: Session) -> LoopState:
            now = time.time()
            row = session.get(LoopStateRow, model)
            if row is None:
                session.add(LoopStateRow(model=model, state_json=text, updated_at=now))
            else:
                row.state_json, row.updated_at = text, now
            return LoopState(model, json.loads(text), now)

        return self._db.write(save)

    # -- leases -------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        """Take or renew the lease ``name`` for ``ttl_s`` seconds.

        Returns:
            The lease when ``holder`` holds it now; ``None`` while another holder's lease
            has not expired.
        """

        def acquire(session: Session) -> Lease | None:
            now = time.time()
            session.execute(self._db.insert(LeaseRow).values(name=name, holder=holder,
                                                             expires_at=now + ttl_s)
                            .on_conflict_do_nothing(index_elements=["name"]))
            row = session.scalars(select(LeaseRow).where(LeaseRow.name == name)
                                  .with_for_update()).one()
            if row.holder != holder and row.expires_at > now:
                return None
            row.holder, row.expires_at = holder, now + ttl_s
            return Lease(name, holder, row.expires_at)

        return self._db.write(acquire)

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease back if ``holder`` holds it; returns whether it did."""

        def release(session: Session) -> bool:
            row = session.get(LeaseRow, name)
            if row is None or row.holder != holder:
                return False
            session.delete(row)
            return True

        return self._db.write(release)

    def lease(self, name: str) -> Lease | None:
        """The lease ``name`` as stored (it may have expired)."""
        with self._db.read() as session:
            row = session.get(LeaseRow, name)
            return None if row is None else Lease(row.name, row.holder, row.expires_at)

    # -- annotations --------------------------------------------------------------------

    def describe_version(self, model: str, version: int, description: str) -> None:
        """Set the description of one model version (the loop records a gate's verdict
        there, so a rejected challenger carries its reason).

        Raises:
            NotFound: no such model version.
        """

        def update(session: Session) -> None:
            row = session.scalars(
                select(ModelVersionRow).join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(ModelRow.name == model, ModelVersionRow.version == version)).first()
            if row is None:
                raise NotFound(f"no version {version} of model {model!r}")
            row.description = description

        self._db.write(update)
