"""Reading the prediction log: its closed files, as Arrow record batches or one table.

Only closed parts are read (see :mod:`._logschema`); a live writer's open stream is not.
Before listing, the parts a crashed writer left are recovered (:mod:`._logfiles`), so what
it streamed before it died is read here without waiting for a server to start again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ._logfiles import recover_log_folder
from ._logschema import BASE_FIELDS

__all__ = ["closed_parts", "iter_prediction_log", "read_prediction_log"]

_LOG = logging.getLogger("modelyard.monitor")


def closed_parts(root: Path, model: str) -> list[Path]:
    """``model``'s closed Parquet parts, oldest first, after recovering crashed writers'.

    Recovery writes into the folder; where it cannot (a read-only copy), the parts already
    closed are still listed.
    """
    folder = Path(root) / model
    if not folder.is_dir():
        return []
    try:
        recover_log_folder(folder)
    except OSError as exc:
        _LOG.warning("prediction log: could not recover %s (%s); reading closed parts only",
                     folder, exc)
    return sorted(folder.glob("part-*.parquet"))


def _to_ts(value: datetime | float | None) -> pa.Scalar | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return pa.scalar(value, type=pa.timestamp("us", tz="UTC"))


def iter_prediction_log(
    root: str | os.PathLike[str],
    model: str,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``model``'s closed log files, oldest file first.

    Args:
        root: the log's root folder.
        model: the model name.
        since: keep rows with ``ts >= since`` (a datetime, naive meaning UTC, or epoch
            seconds).
        until: keep rows with ``ts < until``.

    Example:
        >>> for batch in iter_prediction_log(".modelyard/predictions", "fraud"):
        ...     print(batch.num_rows)  # doctest: +SKIP
    """
    import pyarrow.compute as pc

    lo, hi = _to_ts(since), _to_ts(until)
    for path in closed_parts(Path(root), model):
        for batch in pq.ParquetFile(path).iter_batches():
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
    root: str | os.PathLike[str],
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
