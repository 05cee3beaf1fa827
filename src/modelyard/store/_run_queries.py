"""Run searches done in SQL: filter, sort and page runs without loading them all.

The dashboard's runs table asks for one page of runs among many thousands, filtered by
experiment, status, name, tags, params and latest metric values, sorted by any of them.
Everything here is one SQL statement per question, so the cost grows with the page, not with
the store: a run's latest value of a metric is a correlated subquery that walks the
``(run_id, key, step)`` index backwards and stops at the first row.

A filter is text a user types, MLflow style (``metrics.roc_auc > 0.9 and params.C = 1.0
and tags.team = fraud``); see :func:`parse_run_filter`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    not_,
    select,
    text,
)
from sqlalchemy.orm import aliased

from ..errors import InvalidInput, NotFound
from ._db import Database
from ._entities import Run
from ._run_records import assemble_runs, no_run
from ._schema import MetricRow, ParamRow, RunRow, TagRow

__all__ = ["RunFilter", "RunPage", "RunQueries", "RunQuery", "RunSummary", "parse_run_filter"]

_KINDS = {"metric": "metric", "metrics": "metric", "param": "param", "params": "param",
          "tag": "tag", "tags": "tag", "attribute": "attribute", "attributes": "attribute"}
_ATTRIBUTES = ("name", "status", "experiment", "id", "start_time", "end_time", "duration")
_OPS = ("=", "!=", ">", ">=", "<", "<=", "~")
_CLAUSE = re.compile(
    r"""^\s*(?:(?P<kind>[A-Za-z]+)\.)?(?P<key>`[^`]+`|"[^"]+"|[^\s=!<>~]+)\s*"""
    r"""(?P<op>==|=|!=|>=|<=|>|<|~|(?i:like)|(?i:contains))\s*(?P<value>.*?)\s*$""")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# text that SQL may turn into a number (checked before CAST: PostgreSQL refuses bad casts)
_PG_NUMBER = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
MAX_PAGE = 1000


@dataclass(frozen=True)
class RunFilter:
    """One condition on runs.

    Attributes:
        kind: ``metric`` (the latest value), ``param``, ``tag`` or ``attribute``.
        key: the metric, param or tag key, or the attribute (``name``, ``status``, ...).
        op: ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` or ``~`` (contains).
        value: what to compare with, as typed.
    """

    kind: str
    key: str
    op: str
    value: str


def _split_clauses(text: str) -> list[str]:
    """``text`` split on ``and`` outside quotes."""
    clauses: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif (m := _AND.match(text, i)) is not None:
            clauses.append("".join(current))
            current = []
            i = m.end()
            continue
        current.append(ch)
        i += 1
    clauses.append("".join(current))
    return [c for c in (c.strip() for c in clauses) if c]


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        return text[1:-1]
    return text


def parse_run_filter(text: str) -> list[RunFilter]:
    """Read a filter typed by a user into conditions.

    Clauses are joined with ``and``; each is ``KIND.KEY OP VALUE`` with KIND ``metrics``,
    ``params``, ``tags`` (singular works too) or an attribute alone (``name``, ``status``,
    ``experiment``, ``id``, ``duration``). OP is ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``
    or ``~`` (contains; ``LIKE`` and ``contains`` too). Quote keys or values holding spaces.

    Args:
        text: e.g. ``"metrics.roc_auc > 0.9 and params.C = 1.0 and tags.team = 'fraud'"``.

    Returns:
        The conditions, in order (an empty list for blank text).

    Raises:
        InvalidInput: a clause that is not ``KIND.KEY OP VALUE``, names an unknown kind or
            attribute, or compares a metric with text.

    Example:
        >>> parse_run_filter("metrics.auc > 0.9 and tags.team = fraud")[0]
        RunFilter(kind='metric', key='auc', op='>', value='0.9')
    """
    filters = []
    for clause in _split_clauses(text or ""):
        m = _CLAUSE.match(clause)
        if m is None or not m["value"]:
            raise InvalidInput(
                f"filter clause {clause!r} is not KIND.KEY OP VALUE; write e.g. "
                "\"metrics.roc_auc > 0.9\", \"params.C = 1.0\", \"tags.team = fraud\" or "
                "\"name ~ baseline\", joined with 'and'")
        op = {"==": "=", "like": "~", "contains": "~"}.get(m["op"].lower(), m["op"])
        key, value = _unquote(m["key"]), _unquote(m["value"])
        if m["kind"] is None:
            kind = "attribute"
        else:
            kind = _KINDS.get(m["kind"].lower(), "")
            if not kind:
                raise InvalidInput(
                    f"filter clause {clause!r}: {m['kind']!r} is not metrics, params, tags "
                    "or attributes")
        if kind == "attribute" and key not in _ATTRIBUTES:
            raise InvalidInput(
                f"filter clause {clause!r}: {key!r} is not a run attribute; use one of "
                f"{', '.join(_ATTRIBUTES)}, or metrics.KEY / params.KEY / tags.KEY")
        numeric = kind == "metric" or (kind == "attribute" and key in (
            "start_time", "end_time", "duration"))
        if numeric:
            if op == "~":
                raise InvalidInput(f"filter clause {clause!r}: '~' (contains) compares text; "
                                   f"use =, !=, <, <=, > or >= with {key!r}")
            try:
                float(value)
            except ValueError:
                raise InvalidInput(f"filter clause {clause!r}: {value!r} is not a number; "
                                   f"{kind} {key!r} is compared with numbers") from None
        filters.append(RunFilter(kind, key, op, value))
    return filters


@dataclass(frozen=True)
class RunQuery:
    """Which runs, in which order, which page.

    Attributes:
        experiment: only runs of this experiment.
        status: only runs with this status (``running``, ``finished``, ``failed``, ``killed``).
        search: runs whose name contains this text, or whose id starts with it.
        filters: conditions every run must meet (see :func:`parse_run_filter`).
        parent_id: only the children of this run.
        top_level: only runs without a parent (their children are nested under them).
        order_by: ``start_time``, ``end_time``, ``duration``, ``name``, ``status``,
            ``experiment``, ``metrics.KEY`` or ``params.KEY``.
        descending: largest first (runs without the value come last either way).
        offset: runs to skip.
        limit: runs per page (1 to 1000).
    """

    experiment: str | None = None
    status: str | None = None
    search: str = ""
    filters: tuple[RunFilter, ...] = ()
    parent_id: str | None = None
    top_level: bool = False
    order_by: str = "start_time"
    descending: bool = True
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class RunSummary:
    """A run as a table row: its attributes, params, tags and latest metric values."""

    id: str
    name: str
    experiment: str
    parent_id: str | None
    status: str
    start_time: float
    end_time: float | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    children: int = 0

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True)
class RunPage:
    """One page of a run search.

    Attributes:
        runs: the runs on this page, in order.
        total: how many runs match, over every page.
        offset: where this page starts.
        limit: the page size asked for.
        param_keys: param keys of the runs on this page, sorted.
        metric_keys: metric keys of the runs on this page, sorted.
        tag_keys: tag keys of the runs on this page, sorted.
    """

    runs: list[RunSummary]
    total: int
    offset: int
    limit: int
    param_keys: list[str]
    metric_keys: list[str]
    tag_keys: list[str]


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
    def _latest_metric(key: str) -> Any:
        m = aliased(MetricRow)
        return (select(m.value).where(m.run_id == RunRow.id, m.key == key)
                .order_by(m.step.desc(), m.id.desc()).limit(1)
                .correlate(RunRow).scalar_subquery())

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
            looks = text.regexp_match(_PG_NUMBER)
        return case((looks, cast(text, Float)), else_=None)

    def _attribute(self, key: str) -> Any:
        if key == "duration":
            return RunRow.end_time - RunRow.start_time
        return getattr(RunRow, key)

    def _condition(self, f: RunFilter) -> ColumnElement[bool]:
        if f.kind == "metric":
            return _compare(self._latest_metric(f.key), f.op, float(f.value))
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
        if name and kind in ("metrics", "metric"):
            expr = self._latest_metric(name)
        elif name and kind in ("params", "param"):
            expr = self._number(self._param(name))
            text = self._param(name)
            return [(e.desc() if q.descending else e.asc()).nulls_last()
                    for e in (expr, text)]
        elif name and kind in ("tags", "tag"):
            expr = self._tag(name)
        elif key in _ATTRIBUTES:
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
        order = [*self._order(query), RunRow.start_time.desc(), RunRow.id]
        stmt = (select(RunRow.id, RunRow.name, RunRow.experiment, RunRow.parent_id,
                       RunRow.status, RunRow.start_time, RunRow.end_time)
                .where(*conds).order_by(*order).offset(query.offset).limit(query.limit))
        with self._db.read() as session:
            total = int(session.scalar(select(func.count()).select_from(RunRow)
                                       .where(*conds)) or 0)
            rows = session.execute(stmt).all()
        runs = self.summaries(rows)
        return RunPage(
            runs=runs, total=total, offset=query.offset, limit=query.limit,
            param_keys=sorted({k for r in runs for k in r.params}),
            metric_keys=sorted({k for r in runs for k in r.metrics}),
            tag_keys=sorted({k for r in runs for k in r.tags}))

    def summaries(self, rows: Sequence[Sequence[Any]]) -> list[RunSummary]:
        """Table rows of runs given as ``(id, name, experiment, parent_id, status,
        start_time, end_time)``: four more statements, whatever the number of runs."""
        ids = [r[0] for r in rows]
        if not ids:
            return []
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        children: dict[str, int] = {}
        with self._db.read() as session:
            for rid, k, v in session.execute(
                    select(ParamRow.run_id, ParamRow.key, ParamRow.value)
                    .where(ParamRow.run_id.in_(ids))):
                params[rid][k] = v
            for rid, k, v in session.execute(
                    select(TagRow.run_id, TagRow.key, TagRow.value)
                    .where(TagRow.run_id.in_(ids))):
                tags[rid][k] = v
            for pid, n in session.execute(
                    select(RunRow.parent_id, func.count()).where(RunRow.parent_id.in_(ids))
                    .group_by(RunRow.parent_id)):
                children[str(pid)] = int(n)
        metrics = self.latest_metrics(ids)
        return [RunSummary(id=r[0], name=r[1], experiment=r[2], parent_id=r[3], status=r[4],
                           start_time=float(r[5]),
                           end_time=None if r[6] is None else float(r[6]),
                           params=dict(sorted(params[r[0]].items())),
                           metrics=metrics.get(r[0], {}),
                           tags=dict(sorted(tags[r[0]].items())), children=children.get(r[0], 0))
                for r in rows]

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Each run's latest value (highest step, then last logged) of every metric key.

        A recursive query walks each run's keys on the ``(run_id, key, step)`` index (one
        seek per key) and reads each key's last row with one more seek, so a page of runs
        costs a few index seeks per metric, however many steps were logged.
        """
        ids = list(run_ids)
        if not ids:
            return {}
        out: dict[str, dict[str, float]] = {}
        with self._db.read() as session:
            for rid, key, value in session.execute(_LATEST, {"ids": ids}):
                if key is not None and value is not None:
                    out.setdefault(rid, {})[key] = float(value)
        return {rid: dict(sorted(values.items())) for rid, values in out.items()}

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
            record = assemble_runs(session, [row], metrics=False)[0]
        return replace(record, metrics=self.latest_metrics([run_id]).get(run_id, {}))

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

    def metric_series(self, run_id: str, keys: Sequence[str] | None = None
                      ) -> dict[str, tuple[list[int], list[float]]]:
        """Every logged value of a run's metrics as ``key -> (steps, values)``, by step (in
        logging order within a step); read straight from the driver, as the index holds
        them, so 100,000 points take a fraction of a second."""
        sql = _SERIES_SQLITE if self._db.is_sqlite else _SERIES_PG
        out: dict[str, tuple[list[int], list[float]]] = {}
        wanted = None if keys is None else set(keys)
        with self._db.read() as session:
            # the DB-API cursor itself: SQLAlchemy's Row objects cost as much as the read
            cursor = session.connection().connection.cursor()
            try:
                cursor.execute(sql, (run_id,))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        for key, step, value in rows:
            if wanted is not None and key not in wanted:
                continue
            steps, values = out.setdefault(key, ([], []))
            steps.append(int(step))
            values.append(float(value))
        return out


_SERIES_SQLITE = ("SELECT key, step, value FROM metrics WHERE run_id = ? "
                  "ORDER BY key, step, id")
_SERIES_PG = ("SELECT key, step, value FROM metrics WHERE run_id = %s "
              "ORDER BY key, step, id")
# a skip scan over each run's metric keys, then the newest row of each key
_LATEST = text("""
WITH RECURSIVE k(run_id, key) AS (
    SELECT r.id, (SELECT min(m.key) FROM metrics m WHERE m.run_id = r.id)
    FROM runs r WHERE r.id IN :ids
    UNION ALL
    SELECT k.run_id, (SELECT min(m.key) FROM metrics m
                      WHERE m.run_id = k.run_id AND m.key > k.key)
    FROM k WHERE k.key IS NOT NULL
)
SELECT k.run_id, k.key,
       (SELECT m.value FROM metrics m WHERE m.run_id = k.run_id AND m.key = k.key
        ORDER BY m.step DESC, m.id DESC LIMIT 1)
FROM k WHERE k.key IS NOT NULL
""").bindparams(bindparam("ids", expanding=True))


def _compare(expr: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "~":
        return expr.icontains(str(value), autoescape=True)  # type: ignore[no-any-return]
    ops: dict[str, Any] = {"=": expr.__eq__, "!=": expr.__ne__, ">": expr.__gt__,
                           ">=": expr.__ge__, "<": expr.__lt__, "<=": expr.__le__}
    return ops[op](literal(value))  # type: ignore[no-any-return]
