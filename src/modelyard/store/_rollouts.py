"""Rollouts: the state the server routes by and the loop advances.

A model has at most one open rollout (``ended_at`` is null). Its ``stage`` says how the
server treats the challenger: ``shadow`` (it also predicts every request, logged, never
answered), ``canary`` (it answers ``canary_share`` of requests). Ending a rollout records
``promoted`` or ``rolled_back`` and its reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ._db import Database
from ._schema import RolloutRow

__all__ = ["OPEN_STAGES", "Rollout", "RolloutRepository"]

OPEN_STAGES = ("shadow", "canary")
END_STAGES = ("promoted", "rolled_back")


@dataclass(frozen=True)
class Rollout:
    """One challenger's rollout against the champion."""

    id: int
    model: str
    champion_version: int
    challenger_version: int
    stage: str
    canary_share: float
    started_at: float
    stage_started_at: float
    ended_at: float | None
    reason: str

    @property
    def is_open(self) -> bool:
        """Whether the server still routes by it."""
        return self.ended_at is None


def _record(row: RolloutRow) -> Rollout:
    return Rollout(id=row.id, model=row.model, champion_version=row.champion_version,
                   challenger_version=row.challenger_version, stage=row.stage,
                   canary_share=row.canary_share, started_at=row.started_at,
                   stage_started_at=row.stage_started_at, ended_at=row.ended_at,
                   reason=row.reason)


def _check_stage(stage: str, share: float) -> None:
    if stage not in OPEN_STAGES:
        raise InvalidInput(f"rollout stage {stage!r} must be one of {', '.join(OPEN_STAGES)}")
    if not 0.0 <= share <= 1.0:
        raise InvalidInput(f"canary share {share} must be between 0 and 1")


class RolloutRepository:
    """Reads and writes rollouts.

    Args:
        db: the database that holds them.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def current(self, model: str) -> Rollout | None:
        """The open rollout of ``model``, if any."""
        with self._db.read() as session:
            row = self._open_row(session, model)
            return None if row is None else _record(row)

    def open_rollouts(self) -> list[Rollout]:
        """Every open rollout (what a server polls)."""
        with self._db.read() as session:
            rows = session.scalars(select(RolloutRow).where(RolloutRow.ended_at.is_(None)))
            return [_record(r) for r in rows]

    def history(self, model: str, limit: int = 50) -> list[Rollout]:
        """The rollouts of ``model``, newest first."""
        with self._db.read() as session:
            rows = session.scalars(select(RolloutRow).where(RolloutRow.model == model)
                                   .order_by(RolloutRow.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    @staticmethod
    def _open_row(session: Session, model: str) -> RolloutRow | None:
        return session.scalars(select(RolloutRow).where(
            RolloutRow.model == model, RolloutRow.ended_at.is_(None))).first()

    def start(self, model: str, *, champion_version: int, challenger_version: int,
              stage: str = "shadow", canary_share: float = 0.0, reason: str = "") -> Rollout:
        """Open a rollout.

        Raises:
            Conflict: the model already has an open rollout.
        """
        _check_stage(stage, canary_share)

        def start(session: Session) -> Rollout:
            existing = self._open_row(session, model)
            if existing is not None:
                raise Conflict(
                    f"model {model!r} already rolls out version {existing.challenger_version} "
                    f"({existing.stage}); end that rollout first"
                )
            now = time.time()
            row = RolloutRow(model=model, champion_version=champion_version,
                             challenger_version=challenger_version, stage=stage,
                             canary_share=canary_share, started_at=now, stage_started_at=now,
                             reason=reason)
            session.add(row)
            session.flush()
            return _record(row)

        return self._db.write(start)

    def advance(self, rollout_id: int, *, stage: str, canary_share: float,
                reason: str = "") -> Rollout:
        """Move an open rollout to another stage or share."""
        _check_stage(stage, canary_share)

        def advance(session: Session) -> Rollout:
            row = self._open_by_id(session, rollout_id)
            if row.stage != stage:
                row.stage_started_at = time.time()
            row.stage, row.canary_share = stage, canary_share
            row.reason = reason or row.reason
            return _record(row)

        return self._db.write(advance)

    def end(self, rollout_id: int, *, outcome: str, reason: str) -> Rollout:
        """Close a rollout as ``promoted`` or ``rolled_back``."""
        if outcome not in END_STAGES:
            raise InvalidInput(f"outcome {outcome!r} must be one of {', '.join(END_STAGES)}")

        def end(session: Session) -> Rollout:
            row = self._open_by_id(session, rollout_id)
            now = time.time()
            row.stage, row.ended_at, row.stage_started_at = outcome, now, now
            row.reason = reason
            return _record(row)

        return self._db.write(end)

    @staticmethod
    def _open_by_id(session: Session, rollout_id: int) -> RolloutRow:
        row = session.get(RolloutRow, rollout_id)
        if row is None:
            raise NotFound(f"no rollout {rollout_id}")
        if row.ended_at is not None:
            raise Conflict(f"rollout {rollout_id} of {row.model!r} already ended ({row.stage})")
        return row
