"""Which requests the service answered: what feedback is checked against before a label is
stored.

A label only means something joined to a logged prediction, so feedback for a request id
the service never answered (a typo, another system's id, a forged one) is refused instead
of stored. The answer comes first from :class:`AnsweredIndex`, the newest request ids this
process logged (in memory, fed by :meth:`PredictionLog.append`), then from the prediction
log itself (:func:`find_logged`): the ``request_id`` and ``row`` columns of every closed
part, and the flushed batches of the open parts on this machine (those of other workers of
the same server too). Older labels (delayed by days) are thus still accepted after a
restart, as long as the log holds the prediction.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from ._logfiles import read_stream
from ._logstore import LogStore

__all__ = ["RECENT_IDS", "AnsweredIndex", "find_logged", "other_writers"]

#: request ids (each model's newest) an index keeps in memory; about 200 bytes each
RECENT_IDS = 50_000


class AnsweredIndex:
    """The newest request ids answered per model, with their row counts.

    Args:
        max_ids: how many ids to keep per model (the oldest are forgotten first).

    Example:
        >>> index = AnsweredIndex()
        >>> index.add("fraud", "r1", 3)
        >>> index.lookup("fraud", ["r1", "r2"])
        {'r1': 3}
    """

    def __init__(self, max_ids: int = RECENT_IDS) -> None:
        self.max_ids = max_ids
        self._ids: dict[str, OrderedDict[str, int]] = {}

    def add(self, model: str, request_id: str, rows: int) -> None:
        """Remember that ``request_id`` of ``model`` was answered with ``rows`` rows (the
        caller serialises calls)."""
        ids = self._ids.get(model)
        if ids is None:
            ids = self._ids[model] = OrderedDict()
        ids[request_id] = max(rows, ids.get(request_id, 0))
        if len(ids) > self.max_ids:
            ids.popitem(last=False)

    def lookup(self, model: str, request_ids: Iterable[str]) -> dict[str, int]:
        """The rows of each of ``request_ids`` this index knows."""
        ids: Mapping[str, int] = self._ids.get(model) or {}
        return {r: ids[r] for r in request_ids if r in ids}


def _merge(found: dict[str, int], table: pa.Table, wanted: pa.Array) -> None:
    if table.num_rows == 0 or "request_id" not in table.column_names:
        return
    hits = table.filter(pc.is_in(table.column("request_id"), value_set=wanted))
    if hits.num_rows == 0:
        return
    rows = hits.column("row") if "row" in hits.column_names else pa.nulls(hits.num_rows)
    for rid, row in zip(hits.column("request_id").to_pylist(), rows.to_pylist(),
                        strict=True):
        found[rid] = max(found.get(rid, 0), (row or 0) + 1)


def find_logged(store: LogStore, model: str, request_ids: Iterable[str], *,
                closed: bool = True) -> dict[str, int]:
    """The requests among ``request_ids`` that ``model``'s prediction log holds, with the
    rows each was answered with: closed parts (only their ``request_id`` and ``row``
    columns are read) and the flushed batches of this machine's open parts.

    Args:
        store: the log's place.
        model: the model name.
        request_ids: the ids to look for.
        closed: also read the closed parts (``False``: the open parts only).

    Returns:
        ``{request_id: rows}`` for the ids found.
    """
    wanted = pa.array(sorted(set(request_ids)), type=pa.string())
    found: dict[str, int] = {}
    if len(wanted) == 0:
        return found
    if closed:
        for path in store.closed(model):
            with store.open_part(path) as part:
                names = [c for c in ("request_id", "row") if c in part.schema_arrow.names]
                _merge(found, part.read(columns=names), wanted)
    folder = store.root / model
    if folder.is_dir():
        for stream in sorted(folder.glob(".part-*.arrows")):
            try:
                table, _ = read_stream(stream)
            except FileNotFoundError:  # sealed meanwhile: a closed part now
                if not closed:
                    continue
                return find_logged(store, model, request_ids)
            if table is not None:
                _merge(found, table, wanted)
    return found


def other_writers(store: LogStore, model: str) -> bool:
    """Whether another process (another worker of the server) has an open part of
    ``model`` on this machine: rows it answered may not be flushed yet."""
    folder = store.root / model
    mine = f"-{os.getpid()}-"
    return folder.is_dir() and any(mine not in p.name for p in folder.glob(".part-*.arrows"))
