"""Metric values of runs: the bulk insert the tracking writer uses, and metric reads.

Every write also keeps ``latest_metrics`` (one row per run and key) up to date, in the same
transaction. Latest means the highest step, then the latest timestamp, then the last logged:
the last value of :meth:`RunMetrics.metric_history`. A value logged at an earlier step than the
stored one (out of order) leaves the latest value alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ._db import Database
from ._entities import Metric
from ._run_records import no_run
from ._schema import LatestMetricRow, MetricRow, RunRow

__all__ = ["MetricValue", "RunMetrics", "latest_of"]

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

# The upsert keeps the stored row unless the new value is at least as late; ties (same step
# and timestamp) go to the value logged last, as in the history's order.
_LATEST_UPSERT = (
    "INSERT INTO latest_metrics (run_id, key, value, step, timestamp) VALUES ({marks}) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, step = excluded.step, "
    "timestamp = excluded.timestamp WHERE excluded.step > latest_metrics.step OR "
    "(excluded.step = latest_metrics.step AND excluded.timestamp >= latest_metrics.timestamp)"
)
_SQLITE_LATEST_UPSERT = _LATEST_UPSERT.format(marks="?, ?, ?, ?, ?")
_PG_LATEST_UPSERT = _LATEST_UPSERT.format(marks="%s, %s, %s, %s, %s")


def latest_of(values: Sequence[MetricValue]) -> list[MetricValue]:
    """The latest value per (run, key) among ``values``: the highest step, then the latest
    timestamp, then the one that comes last. Sorted by run and key, so that writers of the
    same runs upsert (and lock) rows in one order.

    Example:
        >>> latest_of([("r", "loss", 0.5, 2, 9.0), ("r", "loss", 0.9, 1, 10.0)])
        [('r', 'loss', 0.5, 2, 9.0)]
    """
    best: dict[tuple[str, str], MetricValue] = {}
    for v in values:
        old = best.get((v[0], v[1]))
        if old is None or v[3] > old[3] or (v[3] == old[3] and v[4] >= old[4]):
            best[(v[0], v[1])] = v
    return [best[k] for k in sorted(best)]


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
        latest = latest_of(values)
        conn = session.connection()
        if self._db.is_sqlite:
            conn.exec_driver_sql(_SQLITE_METRIC_INSERT, [
                (r, k, "NaN" if v != v else v, s, t) for r, k, v, s, t in values])
            conn.exec_driver_sql(_SQLITE_LATEST_UPSERT, [
                (r, k, "NaN" if v != v else v, s, t) for r, k, v, s, t in latest])
        else:
            conn.exec_driver_sql(_METRIC_INSERT, list(values))
            conn.exec_driver_sql(_PG_LATEST_UPSERT, latest)

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
                select(LatestMetricRow.key).where(LatestMetricRow.run_id == run_id)
            ))

    def max_steps(self, run_id: str) -> dict[str, int]:
        """The largest step logged per metric key (to resume step counters): the step of
        each key's latest value, which is the highest."""
        with self._db.read() as session:
            return {k: int(s) for k, s in session.execute(
                select(LatestMetricRow.key, LatestMetricRow.step)
                .where(LatestMetricRow.run_id == run_id)
            )}
