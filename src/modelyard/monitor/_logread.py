"""Reading the prediction log: its closed files, as Arrow record batches or one table.

Only closed parts are read (see :mod:`._logschema`); a live writer's open stream is not.
Before listing, the parts a crashed writer left are recovered (:mod:`._logfiles`), so what
it streamed before it died is read here without waiting for a server to start again. A log
on an object store (``s3://...``, :mod:`._logstore`) is read the same way: its closed parts
are listed by key and read from the store; this machine's spool is recovered first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from ..errors import StorageUnavailable
from ._logfiles import recover_log_folder
from ._logschema import BASE_FIELDS
from ._logstore import LogStore, open_log_store

__all__ = ["closed_parts", "iter_prediction_log", "read_prediction_log"]

LogRoot = str | os.PathLike[str] | LogStore

_LOG = logging.getLogger("modelyard.monitor")


def closed_parts(store: LogStore, model: str) -> list[str]:
    """``model``'s closed Parquet parts (paths or keys), oldest first, after recovering
    crashed writers'.

    Recovery writes into the folder (or the store); where it cannot (a read-only copy, an
    unreachable store), the parts already closed are still listed.
    """
    folder = store.root / model
    if folder.is_dir():
        try:
            recover_log_folder(folder, store=store)
        except (OSError, StorageUnavailable) as exc:
            _LOG.warning("prediction log: could not recover %s (%s); reading closed parts "
                         "only", folder, exc)
    return store.closed(model)


def _to_ts(value: datetime | float | None) -> pa.Scalar | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return pa.scalar(value, type=pa.timestamp("us", tz="UTC"))


def iter_prediction_log(
    root: LogRoot,
    model: str,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``model``'s closed log files, oldest file first.

    Args:
        root: the log's root folder, or its URL (``s3://bucket/predictions``).
        model: the model name.
        since: keep rows with ``ts >= since`` (a datetime, naive meaning UTC, or epoch
            seconds).
        until: keep rows with ``ts < until``.

    Raises:
        StorageUnavailable: the object store holding the log cannot be read.

    Example:
        >>> for batch in iter_prediction_log(".modelyard/predictions", "fraud"):
        ...     print(batch.num_rows)  # doctest: +SKIP
    """
    import pyarrow.compute as pc

    lo, hi = _to_ts(since), _to_ts(until)
    store = open_log_store(root)
    for path in closed_parts(store, model):
        with store.open_part(path) as part:
            for batch in part.iter_batches():
                if lo is not None or hi is not None:
                    ts = batch.column("ts")
                    keep = pa.array(np.ones(batch.num_rows, dtype=bool))
                    if lo is not None:
                        keep = pc.and_(keep, pc.greater_equal(ts, lo))
                    if hi is not None:
                        keep = pc.and_(keep, pc.less(ts, hi))
                    batch = batch.filter(keep)
                if batch.num_rows:
                    yield batch


def read_prediction_log(
    root: LogRoot,
    model: str,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
) -> pa.Table:
    """``model``'s logged predictions as one table (see :func:`iter_prediction_log`).

    Files of versions with other inputs are combined; a column a file lacks is null there.
    No files gives an empty table with the base columns.

    Example:
        >>> table = read_prediction_log(".modelyard/predictions", "fraud")  # doctest: +SKIP
        >>> table.column("prediction")  # doctest: +SKIP
    """
    tables = [pa.Table.from_batches([b]) for b in iter_prediction_log(root, model, since, until)]
    if not tables:
        return pa.schema(list(BASE_FIELDS)).empty_table()
    return pa.concat_tables(tables, promote_options="default")
