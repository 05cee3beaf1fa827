"""The language of run searches: the filter a user types (MLflow style, ``metrics.roc_auc >
0.9 and params.C = 1.0 and tags.team = fraud``), the query, and the page of results.

:class:`~modelyard.store.RunQueries` turns a :class:`RunQuery` into one SQL statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InvalidInput

__all__ = ["ATTRIBUTES", "MAX_PAGE", "PG_NUMBER", "RunFilter", "RunPage", "RunQuery", "RunSummary",
           "parse_run_filter"]

_KINDS = {"metric": "metric", "metrics": "metric", "param": "param", "params": "param",
          "tag": "tag", "tags": "tag", "attribute": "attribute", "attributes": "attribute"}
ATTRIBUTES = ("name", "status", "experiment", "id", "start_time", "end_time", "duration")
_OPS = ("=", "!=", ">", ">=", "<", "<=", "~")
_CLAUSE = re.compile(
    r"""^\s*(?:(?P<kind>[A-Za-z]+)\.)?(?P<key>`[^`]+`|"[^"]+"|[^\s=!<>~]+)\s*"""
    r"""(?P<op>==|=|!=|>=|<=|>|<|~|(?i:like)|(?i:contains))\s*(?P<value>.*?)\s*$""")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# text that SQL may turn into a number (checked before CAST: PostgreSQL refuses bad casts)
PG_NUMBER = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
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
        if kind == "attribute" and key not in ATTRIBUTES:
            raise InvalidInput(
                f"filter clause {clause!r}: {key!r} is not a run attribute; use one of "
                f"{', '.join(ATTRIBUTES)}, or metrics.KEY / params.KEY / tags.KEY")
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
