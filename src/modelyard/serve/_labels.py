"""Recent predictions of a rollout's versions, kept to score the labels feedback brings.

While a rollout is open the server remembers, by request id, what each version predicted
for the rows of the requests it answered (or, for a shadow challenger, predicted on the
side). When ``POST /v1/models/{name}/feedback`` stores labels it matches them here, so
``/stats`` shows each version's accuracy (or mean absolute error) on the same live traffic
while the rollout runs, without a database read on the predict path.

The memory is bounded: the newest ``max_rows`` rows (100,000 by default, every version
together), the oldest requests forgotten first; about 40 MB at worst (one-row requests),
far less with batched ones. Labels for a forgotten request are stored but not scored.
Everything here runs on the event loop, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["REMEMBERED_ROWS", "RecentPredictions"]

#: rows of predictions a rollout remembers for scoring feedback
REMEMBERED_ROWS = 100_000


class _Answer:
    """One version's predictions for one request, and which rows were labelled already."""

    __slots__ = ("labelled", "predictions", "version")

    def __init__(self, version: int, predictions: list[Any]) -> None:
        self.version = version
        self.predictions = predictions
        self.labelled = 0  # a bit per row, so a repeated label is scored once


class RecentPredictions:
    """Predictions by request id and version, the newest ``max_rows`` rows.

    Args:
        max_rows: how many rows (of all versions together) to keep.

    Example:
        >>> recent = RecentPredictions()
        >>> recent.remember("r1", 1, np.array([0, 1]))
        >>> list(recent.match([("r1", 1, 1), ("r9", 0, 0)]))
        [(1, 1, 1)]
    """

    def __init__(self, max_rows: int = REMEMBERED_ROWS) -> None:
        self.max_rows = max_rows
        self.rows = 0
        self._answers: OrderedDict[str, list[_Answer]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def remember(self, request_id: str, version: int,
                 predictions: np.ndarray[Any, Any]) -> None:
        """Keep what ``version`` predicted for request ``request_id`` (a retry replaces it)."""
        values = predictions.tolist()  # Python values: compact, and compare with JSON labels
        answers = self._answers.get(request_id)
        if answers is None:
            answers = self._answers[request_id] = []
        else:
            self._answers.move_to_end(request_id)
            for old in [a for a in answers if a.version == version]:
                answers.remove(old)
                self.rows -= len(old.predictions)
        answers.append(_Answer(version, values))
        self.rows += len(values)
        while self.rows > self.max_rows and len(self._answers) > 1:
            _, gone = self._answers.popitem(last=False)
            self.rows -= sum(len(a.predictions) for a in gone)

    def match(self, labels: Iterable[tuple[str, int, Any]]) -> Iterator[tuple[int, Any, Any]]:
        """``(version, prediction, label)`` for each remembered prediction of a labelled
        row ``(request_id, row, label)``; a row already labelled is skipped."""
        for request_id, row, label in labels:
            for answer in self._answers.get(request_id, ()):
                bit = 1 << row
                if row >= len(answer.predictions) or answer.labelled & bit:
                    continue
                answer.labelled |= bit
                yield answer.version, answer.predictions[row], label
