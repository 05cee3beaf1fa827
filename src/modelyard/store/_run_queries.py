"""Run searches done in SQL: filter, sort and page runs without loading them all.

The dashboard's runs table asks for one page of runs among many thousands, filtered by
experiment, status, name, tags, params and latest metric values, sorted by any of them.
Everything here is one SQL statement per question, so the cost grows with the page and the
number of runs, never with the metric history: a run's latest value of a metric is one row of
``latest_metrics`` (kept by every metric write; see :mod:`._run_metrics`), found by its key
``(run_id, key)``, and a filter on a metric reads the ``(key, value)`` index of that table.

A filter is text a user types, MLflow style (``metrics.roc_auc > 0.9 and params.C = 1.0
and tags.team = fraud``); see :func:`parse_run_filter`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    select,
)
from sqlalchemy.orm import Session, aliased

from ..errors import InvalidInput, NotFound
from ._db import Database
from ._entities import Run
from ._run_filter import (
    ATTRIBUTES,
    MAX_PAGE,
    PG_NUMBER,
    RunFilter,
    RunPage,
    RunQuery,
    RunSummary,
)
from ._run_records import assemble_runs, no_run
from ._schema import LatestMetricRow, ParamRow, RunRow, TagRow

__all__ = ["RunQueries"]


class RunQueries:
    """Searches over runs, each answered by a few SQL statements.

    Args:
        db: the database that holds the runs.

    Example:
        >>> queries = RunQueries(store.db)  # doctest: +SKIP
        >>> page = queries.page(RunQuery(filters=tuple(parse_run_filter(
        ...     "metrics.roc_auc > 0.9")), order_by="metrics.roc_auc"))  # doctest: +SKIP
        >>> page.total, page.runs[0].metrics["roc_auc"]  # doctest: +SKIP
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- SQL pieces ---------------------------------------------------------------------

    @staticmethod
    def _metric_condition(f: RunFilter) -> ColumnElement[bool]:
        """Runs whose latest ``f.key`` compares as asked: a range of the ``(key, value)``
        index (runs without the metric never match, as with a NULL comparison)."""
        m = aliased(LatestMetricRow)
        return RunRow.id.in_(select(m.run_id).where(
            m.key == f.key, _compare(m.value, f.op, float(f.value))))

    @staticmethod
    def _param(key: str) -> Any:
        p = aliased(ParamRow)
        return (select(p.value).where(p.run_id == RunRow.id, p.key == key)
                .correlate(RunRow).scalar_subquery())

    @staticmethod
    def _tag(key: str) -> Any:
        t = aliased(TagRow)
        return (select(t.value).where(t.run_id == RunRow.id, t.key == key)
                .correlate(RunRow).scalar_subquery())

    def _number(self, text: Any) -> Any:
        """``text`` as a number where it reads as one, else NULL (on both dialects)."""
        if self._db.is_sqlite:
            glob = text.op("GLOB", is_comparison=True)
            looks = and_(glob("*[0-9]*"), not_(glob("*[^-+.0-9eE ]*")))
        else:
            looks = text.regexp_match(PG_NUMBER)
        return case((looks, cast(text, Float)), else_=None)

    def _attribute(self, key: str) -> Any:
        if key == "duration":
            return RunRow.end_time - RunRow.start_time
        return getattr(RunRow, key)

    def _condition(self, f: RunFilter) -> ColumnElement[bool]:
        if f.kind == "metric":
            return self._metric_condition(f)
        if f.kind == "attribute":
            if f.key in ("start_time", "end_time", "duration"):
                return _compare(self._attribute(f.key), f.op, float(f.value))
            return _compare(self._attribute(f.key), f.op, f.value)
        expr = self._param(f.key) if f.kind == "param" else self._tag(f.key)
        if f.op in ("<", "<=", ">", ">="):
            try:
                number = float(f.value)
            except ValueError:
                return _compare(expr, f.op, f.value)
            return _compare(self._number(expr), f.op, number)
        return _compare(expr, f.op, f.value)

    def _conditions(self, q: RunQuery) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if q.experiment:
            conds.append(RunRow.experiment == q.experiment)
        if q.status:
            conds.append(RunRow.status == q.status)
        if q.parent_id is not None:
            conds.append(RunRow.parent_id == q.parent_id)
        elif q.top_level:
            conds.append(RunRow.parent_id.is_(None))
        if q.search:
            text = q.search.strip()
            like = RunRow.name.icontains(text, autoescape=True)
            conds.append(like | RunRow.id.startswith(text.lower(), autoescape=True)
                         if re.fullmatch(r"[0-9a-fA-F]{2,32}", text) else like)
        conds.extend(self._condition(f) for f in q.filters)
        return conds

    def _order(self, q: RunQuery) -> Any:
        key = q.order_by or "start_time"
        kind, _, name = key.partition(".")
        if name and kind in ("params", "param"):  # metrics: see _page_by_metric
            expr = self._number(self._param(name))
            text = self._param(name)
            return [(e.desc() if q.descending else e.asc()).nulls_last()
                    for e in (expr, text)]
        elif name and kind in ("tags", "tag"):
            expr = self._tag(name)
        elif key in ATTRIBUTES:
            expr = self._attribute(key)
        else:
            raise InvalidInput(
                f"cannot sort runs by {key!r}; use start_time, end_time, duration, name, "
                "status, experiment, metrics.KEY, params.KEY or tags.KEY")
        return [(expr.desc() if q.descending else expr.asc()).nulls_last()]

    # -- questions ----------------------------------------------------------------------

    def page(self, query: RunQuery) -> RunPage:
        """One page of the runs matching ``query``, with the total count.

        Raises:
            InvalidInput: a bad sort key, page size or offset.
        """
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput(f"page size {query.limit} is out of range; use 1 to {MAX_PAGE}")
        if query.offset < 0:
            raise InvalidInput(f"offset {query.offset} is negative; use 0 or more")
        conds = self._conditions(query)
        kind, _, name = (query.order_by or "start_time").partition(".")
        with self._db.read() as session:
            total = int(session.scalar(select(func.count()).select_from(RunRow)
                                       .where(*conds)) or 0)
            if name and kind in ("metrics", "metric"):
                rows = self._page_by_metric(session, name, query, conds)
            else:
                order = [*self._order(query), RunRow.start_time.desc(), RunRow.id]
                rows = list(session.execute(select(*_COLUMNS).where(*conds).order_by(*order)
                                            .offset(query.offset).limit(query.limit)))
            runs = self.summaries(rows, session)
        return RunPage(
            runs=runs, total=total, offset=query.offset, limit=query.limit,
            param_keys=sorted({k for r in runs for k in r.params}),
            metric_keys=sorted({k for r in runs for k in r.metrics}),
            tag_keys=sorted({k for r in runs for k in r.tags}))

    @staticmethod
    def _page_by_metric(session: Session, key: str, q: RunQuery,
                        conds: list[ColumnElement[bool]]) -> list[Any]:
        """A page sorted by a metric: first the runs that logged it, walking the ``(key,
        value)`` index in order and stopping once the page is full, then (past their end)
        the runs without it, newest first: the order of ``value NULLS LAST``, without
        reading every run's value and sorting them."""
        m = aliased(LatestMetricRow)
        value = m.value.desc() if q.descending else m.value.asc()
        having = select(*_COLUMNS).join(m, and_(m.run_id == RunRow.id, m.key == key))
        rows = list(session.execute(having.where(*conds).order_by(
            value, RunRow.start_time.desc(), RunRow.id).offset(q.offset).limit(q.limit)))
        if len(rows) == q.limit:
            return rows
        if rows:
            before = q.offset + len(rows)  # every run with the metric, this page's included
        else:
            before = int(session.scalar(select(func.count()).select_from(RunRow).join(
                m, and_(m.run_id == RunRow.id, m.key == key)).where(*conds)) or 0)
        m2 = aliased(LatestMetricRow)
        lacking = ~RunRow.id.in_(select(m2.run_id).where(m2.key == key))
        rows += session.execute(
            select(*_COLUMNS).where(*conds, lacking)
            .order_by(RunRow.start_time.desc(), RunRow.id)
            .offset(max(q.offset - before, 0)).limit(q.limit - len(rows)))
        return rows

    def summaries(self, rows: Sequence[Sequence[Any]], session: Session | None = None
                  ) -> list[RunSummary]:
        """Table rows of runs given as ``(id, name, experiment, parent_id, status,
        start_time, end_time)``: four more statements, whatever the number of runs, sent
        straight to the driver (building them with SQLAlchemy cost more than running them).
        """
        ids = [str(r[0]) for r in rows]
        if not ids:
            return []
        if session is None:
            with self._db.read() as own:
                return self.summaries(rows, own)
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        children: dict[str, int] = {}
        inside = ", ".join(["?" if self._db.is_sqlite else "%s"] * len(ids))
        cursor = session.connection().connection.cursor()
        try:
            for table, into in (("params", params), ("tags", tags)):
                cursor.execute(f"SELECT run_id, key, value FROM {table} "
                               f"WHERE run_id IN ({inside})", ids)
                for rid, k, v in cursor.fetchall():
                    into[rid][k] = v
            cursor.execute("SELECT run_id, key, value FROM latest_metrics "
                           f"WHERE run_id IN ({inside})", ids)
            for rid, k, v in cursor.fetchall():
                metrics[rid][k] = float(v)
            cursor.execute(f"SELECT parent_id, COUNT(*) FROM runs WHERE parent_id IN ({inside}) "
                           "GROUP BY parent_id", ids)
            children = {str(pid): int(n) for pid, n in cursor.fetchall()}
        finally:
            cursor.close()
        return [RunSummary(id=r[0], name=r[1], experiment=r[2], parent_id=r[3], status=r[4],
                           start_time=float(r[5]),
                           end_time=None if r[6] is None else float(r[6]),
                           params=dict(sorted(params[r[0]].items())),
                           metrics=dict(sorted(metrics[r[0]].items())),
                           tags=dict(sorted(tags[r[0]].items())), children=children.get(r[0], 0))
                for r in rows]

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Each run's latest value (highest step, then latest timestamp, then last logged)
        of every metric key, read from ``latest_metrics``: one row per run and key,
        however many steps were logged."""
        ids = list(run_ids)
        if not ids:
            return {}
        out: dict[str, dict[str, float]] = {}
        with self._db.read() as session:
            for rid, key, value in session.execute(
                    select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value)
                    .where(LatestMetricRow.run_id.in_(ids)).order_by(LatestMetricRow.key)):
                out.setdefault(rid, {})[key] = float(value)
        return out

    def get(self, run_id: str) -> Run:
        """A run with its params, tags, inputs, artifacts and latest metric values, read
        with index seeks (a run with 100,000 metric values costs no more than one with 10).

        Raises:
            NotFound: no run has this id.
        """
        with self._db.read() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(no_run(run_id))
            return assemble_runs(session, [row])[0]

    def children(self, parent_ids: Sequence[str], *, limit: int = 500
                 ) -> dict[str, list[RunSummary]]:
        """The child runs of each parent, oldest first, at most ``limit`` in all."""
        ids = list(parent_ids)
        if not ids:
            return {}
        stmt = (select(RunRow.id, RunRow.name, RunRow.experiment, RunRow.parent_id,
                       RunRow.status, RunRow.start_time, RunRow.end_time)
                .where(RunRow.parent_id.in_(ids))
                .order_by(RunRow.start_time, RunRow.id).limit(limit))
        with self._db.read() as session:
            rows = session.execute(stmt).all()
        out: dict[str, list[RunSummary]] = {}
        for run in self.summaries(rows):
            out.setdefault(str(run.parent_id), []).append(run)
        return out

    def experiments(self) -> list[tuple[str, int]]:
        """Every experiment with its number of runs, by name."""
        with self._db.read() as session:
            return [(str(e), int(n)) for e, n in session.execute(
                select(RunRow.experiment, func.count()).group_by(RunRow.experiment)
                .order_by(RunRow.experiment))]

    def metric_arrays(self, run_id: str, keys: Sequence[str] | None = None
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every logged value of a run's metrics as ``key -> (steps, values)`` arrays
        (int64 and float64), by step and then logging order, keys sorted; one index range
        per key read straight from the driver, so 100,000 points take a fraction of a
        second.

        Args:
            run_id: the run.
            keys: only these metrics (default: every metric the run logged).

        Example:
            >>> steps, values = queries.metric_arrays(run_id)["loss"]  # doctest: +SKIP
        """
        mark = "?" if self._db.is_sqlite else "%s"
        sql = (f"SELECT step, value FROM metrics WHERE run_id = {mark} AND key = {mark} "
               "ORDER BY step, id")
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with self._db.read() as session:
            logged = list(session.scalars(
                select(LatestMetricRow.key).where(LatestMetricRow.run_id == run_id)
                .order_by(LatestMetricRow.key)))
            asked = set(logged if keys is None else keys)
            wanted = [k for k in logged if k in asked]
            # the DB-API cursor itself: SQLAlchemy's Row objects cost as much as the read
            cursor = session.connection().connection.cursor()
            try:
                for key in wanted:
                    cursor.execute(sql, (run_id, key))
                    got = cursor.fetchall()
                    # flat, for fromiter (3x faster than np.array over tuples); float()
                    # reads SQLite's stored 'NaN' text too
                    rows = np.fromiter(itertools.chain.from_iterable(got), dtype=np.float64,
                                       count=2 * len(got)).reshape(-1, 2)
                    out[key] = (rows[:, 0].astype(np.int64), rows[:, 1].copy())
            finally:
                cursor.close()
        return out

    def metric_series(self, run_id: str, keys: Sequence[str] | None = None
                      ) -> dict[str, tuple[list[int], list[float]]]:
        """:meth:`metric_arrays` as lists: ``key -> (steps, values)``."""
        return {k: (s.tolist(), v.tolist())
                for k, (s, v) in self.metric_arrays(run_id, keys).items()}


_COLUMNS = (RunRow.id, RunRow.name, RunRow.experiment, RunRow.parent_id, RunRow.status,
            RunRow.start_time, RunRow.end_time)


def _compare(expr: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "~":
        return expr.icontains(str(value), autoescape=True)  # type: ignore[no-any-return]
    ops: dict[str, Any] = {"=": expr.__eq__, "!=": expr.__ne__, ">": expr.__gt__,
                           ">=": expr.__ge__, "<": expr.__lt__, "<=": expr.__le__}
    return ops[op](literal(value))  # type: ignore[no-any-return]
