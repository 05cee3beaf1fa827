"""Metric values of runs: the bulk insert the tracking writer uses, and metric reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ._db import Database
from ._entities import Metric
from ._run_records import no_run
from ._schema import MetricRow, RunRow

__all__ = ["MetricValue", "RunMetrics"]

#: One buffered metric value: (run_id, key, value, step, timestamp).
MetricValue = tuple[str, str, float, int, float]

# SQLite turns a bound NaN into NULL, which the NOT NULL column refuses; the text 'NaN' keeps
# its value there (REAL affinity leaves non-numeric text alone) and reads back via float().
_SQLITE_METRIC_INSERT = (
    "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)"
)
_METRIC_INSERT = (
    "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (%s, %s, %s, %s, %s)"
)


class RunMetrics:
    """The metric half of :class:`~._runs.RunRepository`, which inherits these methods.

    Metric values arrive in bulk from the tracking writer thread (:meth:`insert_metrics`),
    one transaction per batch.
    """

    _db: Database

    def insert_metrics(self, values: Sequence[MetricValue]) -> None:
        """Insert many metric values in one transaction (the writer thread's bulk path)."""
        if values:
            self._db.write(lambda session: self._insert_metrics(session, values))

    def _insert_metrics(self, session: Session, values: Sequence[MetricValue]) -> None:
        if not values:
            return
        # Straight to the driver's executemany: SQLAlchemy's per-row bind processing costs
        # more than the insert itself for thousands of rows.
        if self._db.is_sqlite:
            sql = _SQLITE_METRIC_INSERT
            rows: Sequence[tuple[Any, ...]] = [
                (r, k, "NaN" if v != v else v, s, t) for r, k, v, s, t in values
            ]
        else:
            sql, rows = _METRIC_INSERT, values
        session.connection().exec_driver_sql(sql, list(rows))

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value of one metric of a run, by step then time.

        Raises:
            NotFound: no run has this id.
        """
        with self._db.read() as session:
            if session.get(RunRow, run_id) is None:
                raise NotFound(no_run(run_id))
            rows = session.execute(
                select(MetricRow.key, MetricRow.value, MetricRow.step, MetricRow.timestamp)
                .where(MetricRow.run_id == run_id, MetricRow.key == key)
                .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
            ).all()
        return [Metric(key=k, value=float(v), step=int(s), timestamp=float(t))
                for k, v, s, t in rows]

    def metric_keys(self, run_id: str) -> list[str]:
        """The distinct metric keys a run logged, sorted."""
        with self._db.read() as session:
            return sorted(session.scalars(
                select(MetricRow.key).where(MetricRow.run_id == run_id).distinct()
            ))

    def max_steps(self, run_id: str) -> dict[str, int]:
        """The largest step logged per metric key (to resume step counters)."""
        with self._db.read() as session:
            return {k: int(s) for k, s in session.execute(
                select(MetricRow.key, func.max(MetricRow.step))
                .where(MetricRow.run_id == run_id).group_by(MetricRow.key)
            )}
