"""The prediction log's side of the predict path: one log entry per predicted batch.

Each request that should be logged is submitted to its batcher with a :class:`Logged` tag
(its id, the alias it came through, when it started and arrived). When the batch's results
are back on the event loop, before any caller resumes, :func:`log_batch` queues the whole
batch as one entry: the requests' rows stacked as the model took them, and one id, alias,
latency and time per request. Per request that costs a few list items instead of an entry,
a lock and a table row group of its own. A request whose caller gave up (a canary that timed
out and was answered by the champion, a client that went away) or whose rows failed is not
in the batch's results, so it is never logged as answered.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..monitor import LogSchema, PredictionLog
from ._models import Result
from ._schemas import ParsedInput

__all__ = ["Logged", "log_batch"]


class Logged:
    """What the log needs to know of one request beyond its rows.

    Args:
        request_id: the request's id.
        alias: the alias it came through (``shadow`` for a challenger's shadow copy).
        started: ``time.perf_counter()`` when it started (its latency runs from here to its
            prediction).
        arrived: when it arrived (epoch seconds).
    """

    __slots__ = ("alias", "arrived", "request_id", "started")

    def __init__(self, request_id: str, alias: str | None, started: float,
                 arrived: float) -> None:
        self.request_id = request_id
        self.alias = alias
        self.started = started
        self.arrived = arrived


def log_batch(log: PredictionLog, schema: LogSchema,
              done: list[tuple[Any, ParsedInput, Result]]) -> None:
    """Queue one predicted batch's logged requests as one entry of the version's log
    (``schema``: its columns)."""
    now = time.perf_counter()
    tags: list[Logged] = [tag for tag, _, _ in done]
    items = [item for _, item, _ in done]
    inputs: Any
    matrices = [item.matrix for item in items if item.matrix is not None]
    if len(matrices) == len(items):
        inputs = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
    else:
        inputs = [record for item in items for record in item.records]
    predictions = [result[0] for _, _, result in done]
    probabilities = [result[1] for _, _, result in done if result[1] is not None]
    proba: Any = None
    if len(probabilities) == len(done):
        proba = probabilities[0] if len(done) == 1 else np.concatenate(probabilities)
    log.append_batch(
        schema, [t.request_id for t in tags], [item.n for item in items], inputs,
        predictions[0] if len(done) == 1 else np.concatenate(predictions), proba,
        aliases=[t.alias for t in tags], latency_ms=[(now - t.started) * 1000 for t in tags],
        ts=[t.arrived for t in tags])
