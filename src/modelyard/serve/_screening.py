"""Rows a model cannot take, refused before they join a batch.

A request that passes the signature can still carry a value the model itself rejects: the
trees of scikit-learn (decision trees, random forests, extra trees, gradient boosting,
isolation forests) cast their input to float32, and a finite float64 beyond float32's range
(``1e308``) makes ``predict`` raise. Let into a micro-batch, such a row fails the whole
batch, which then has to be split to find it (see ``_batching``): every client sharing the
batch pays. Screening the parsed matrix (one vectorised comparison) answers the poison
request with a 422 naming its columns before it costs anyone else anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ValidationFailed
from ._schemas import ParsedInput

__all__ = ["RowScreen"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
# the scikit-learn modules whose estimators validate their input as float32
_FLOAT32_MODULES = ("sklearn.tree", "sklearn.ensemble._forest", "sklearn.ensemble._gb",
                    "sklearn.ensemble._iforest", "sklearn.ensemble._weight_boosting")


def _final_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


class RowScreen:
    """Checks a parsed request against what the model takes, before it is batched.

    Args:
        model: the fitted model (or pipeline).
        columns: the input column names, in matrix order.
        what: how messages name the model (``fraud/versions/3``).

    Example:
        >>> screen = RowScreen(RandomForestClassifier().fit(X, y), ["a"], "m")  # doctest: +SKIP
        >>> screen.check(parsed)  # doctest: +SKIP
    """

    def __init__(self, model: Any, columns: list[str], what: str) -> None:
        module = type(_final_step(model)).__module__
        self.float32 = module.startswith(_FLOAT32_MODULES)
        self.columns = list(columns)
        self.what = what

    def check(self, parsed: ParsedInput) -> None:
        """Refuse a request with a value the model cannot take.

        Raises:
            ValidationFailed: a value beyond float32's range for a float32 model (422),
                each such column named.
        """
        matrix = parsed.matrix
        if not self.float32 or matrix is None or matrix.dtype.kind != "f":
            return
        with np.errstate(invalid="ignore"):
            bad = np.abs(matrix) > _FLOAT32_MAX
        if not bad.any():
            return
        rows, cols = np.nonzero(bad)
        violations = [{"column": self.columns[j], "rule": "range",
                       "message": f"{matrix[i, j]:g} in row {i} is beyond the model's "
                                  f"float32 range (±{_FLOAT32_MAX:.3g})"}
                      for i, j in list(zip(rows.tolist(), cols.tolist(), strict=True))[:20]]
        names = sorted({v["column"] for v in violations})
        raise ValidationFailed(f"{self.what} takes float32 values; {', '.join(names)} "
                               f"{'has' if len(names) == 1 else 'have'} values beyond "
                               f"±{_FLOAT32_MAX:.3g}: send smaller numbers", violations)
