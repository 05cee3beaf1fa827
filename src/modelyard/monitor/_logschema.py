"""The prediction log's format: where its files are and what their columns hold.

Layout, under a root folder (``<state_dir>/predictions`` for ``modelyard serve``)::

    <root>/<model>/part-<UTC yyyymmddTHHMMSSffffff>-<pid>-<seq>.parquet

Readers see only closed parts; the one a writer has open is an Arrow IPC stream named
``.part-....arrows`` until it is sealed into its Parquet file (see :mod:`._logfiles`).

One row per predicted row, with these columns:

==================  ==========================  =========================================
column              Arrow type                  what
==================  ==========================  =========================================
``request_id``      string                      the id the server answered with
``row``             int32                       the row's position in its request
``ts``              timestamp[us, UTC]          when the request arrived
``model``           string                      the model name
``version``         int32                       the version that answered
``alias``           string (null)               the alias the caller used, if any
``latency_ms``      float64                     the request's time in the server, to the
                                                prediction (not the response write)
``status``          int16                       the HTTP status (200: only answered
                                                predictions are logged)
``input.<name>``    by logical type             one per input feature: float -> float64,
                                                integer -> int64, boolean -> bool,
                                                string/categorical -> string,
                                                datetime -> timestamp[us, UTC]
``prediction``      by the prediction type      what ``predict`` returned
``proba.<class>``   float64                     one per class, when the model has them
==================  ==========================  =========================================

The writer is :class:`~._log.PredictionLog`, the readers are in :mod:`._logread`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

__all__ = ["BASE_FIELDS", "LogSchema", "arrow_type"]

BASE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("request_id", pa.string()),
    pa.field("row", pa.int32()),
    pa.field("ts", pa.timestamp("us", tz="UTC")),
    pa.field("model", pa.string()),
    pa.field("version", pa.int32()),
    pa.field("alias", pa.string()),
    pa.field("latency_ms", pa.float64()),
    pa.field("status", pa.int16()),
)
ARROW_TYPES: dict[str, pa.DataType] = {
    "float": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "categorical": pa.string(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "list": pa.list_(pa.int64()),  # a recommender's top-k item ids per row
}


def arrow_type(logical: str) -> pa.DataType:
    return ARROW_TYPES.get(logical, pa.string())


@dataclass(frozen=True)
class LogSchema:
    """The columns of one model version's log rows; build it once per loaded version.

    Args:
        model: the model name.
        version: the version number.
        inputs: ``(name, logical type)`` of each input feature, in the order a 2-D input
            array has them.
        prediction_type: the logical type of the predictions.
        classes: the class labels, when probabilities are logged.

    Example:
        >>> s = LogSchema("fraud", 3, (("amount", "float"),), "integer", (0, 1))
        >>> s.arrow.names[-3:]
        ['prediction', 'proba.0', 'proba.1']
    """

    model: str
    version: int
    inputs: tuple[tuple[str, str], ...]
    prediction_type: str = "float"
    classes: tuple[Any, ...] | None = None
    arrow: pa.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = list(BASE_FIELDS)
        fields += [pa.field(f"input.{n}", arrow_type(t)) for n, t in self.inputs]
        fields.append(pa.field("prediction", arrow_type(self.prediction_type)))
        fields += [pa.field(f"proba.{c}", pa.float64()) for c in self.classes or ()]
        object.__setattr__(self, "arrow", pa.schema(fields))
