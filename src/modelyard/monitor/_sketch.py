"""Live drift: per-feature sketches the server updates as predictions arrive.

A :class:`FeatureSketches` holds, for one served model version, the same bucket counts a
batch window holds (:class:`~._counts.DriftCounts` against the version's reference
profile), in a ring of ``slots`` time slots covering the last ``window_s`` seconds. An
update of a 2-D batch counts all its numeric columns at once (two ``searchsorted`` and one
``bincount`` over the whole matrix, no Python step per column: a request of one MNIST
image, 784 pixel columns, costs about 0.25 ms), takes a lock only to add counts, and needs
no I/O; reading the current drift merges the slots and computes PSI/KS/chi-squared/JS from
counts, as the batch job does, so both agree on the same rows. Memory is fixed: ``slots``
x (about 1,000 buckets per numeric feature, about 50 per categorical one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._counts import DriftCounts
from ._drift import DataDrift, DriftThresholds
from ._profile import ReferenceProfile

__all__ = ["FeatureSketches"]


class FeatureSketches:
    """Sliding-window drift sketches of one model version's inputs and predictions.

    Args:
        profile: the version's reference profile (``yard.monitor.profile(ref)``).
        window_s: how much recent traffic the sketch covers.
        slots: the window is kept as this many slots; the oldest is dropped as time moves,
            so the sketch covers between ``window_s * (slots - 1) / slots`` and
            ``window_s`` seconds.
        thresholds: when a feature counts as drifted.
        clock: seconds now (for tests).

    Example:
        >>> sketches = yard.monitor.sketches("fraud@champion")  # doctest: +SKIP
        >>> sketches.update(matrix, predictions, probabilities)  # doctest: +SKIP
        >>> sketches.drift().drifted  # doctest: +SKIP
        ('amount',)
    """

    def __init__(self, profile: ReferenceProfile, *, window_s: float = 3600.0,
                 slots: int = 12, thresholds: DriftThresholds | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if window_s <= 0 or slots < 1:
            raise ValueError("window_s must be positive and slots at least 1")
        self.profile = profile
        self.window_s = float(window_s)
        self.slots = slots
        self.thresholds = thresholds or DriftThresholds()
        self._clock = clock
        self._slot_s = self.window_s / slots
        self._lock = threading.Lock()
        self._ring: dict[int, tuple[DriftCounts, DriftCounts]] = {}
        # empty counters whose copies share the bucket layout, built once per version and
        # here (serve builds sketches off the request path), not on the first batch
        self._empty = (DriftCounts(profile.features), DriftCounts(profile.predictions))
        self._empty[0].layout.search  # noqa: B018
        self.columns = tuple(profile.features)
        self.rows = 0

    def _slot(self, now: float) -> tuple[DriftCounts, DriftCounts]:
        key = int(now // self._slot_s)
        for old in [k for k in self._ring if k <= key - self.slots]:
            del self._ring[old]
        found = self._ring.get(key)
        if found is None:
            found = self._ring[key] = self._fresh()
        return found

    def _fresh(self) -> tuple[DriftCounts, DriftCounts]:
        return self._empty[0].empty_copy(), self._empty[1].empty_copy()

    def update(self, inputs: Any, predictions: Any = None, probabilities: Any = None, *,
               columns: Sequence[str] | None = None) -> None:
        """Count a batch of served rows.

        Args:
            inputs: a 2-D array whose columns are the signature's inputs in order
                (``columns`` names them otherwise), or a mapping of column name to values,
                or a DataFrame.
            predictions: one prediction per row.
            probabilities: one row of class probabilities per row (in the profile's class
                order), or ``None``.
            columns: the names of a 2-D array's columns.
        """
        outputs: dict[str, Any] = {}
        if predictions is not None and "prediction" in self.profile.predictions:
            outputs["prediction"] = np.asarray(predictions).reshape(-1)
        if probabilities is not None and "score" in self.profile.predictions:
            outputs["score"] = np.asarray(probabilities, dtype=np.float64)[:, -1]
        # count outside the lock (the costly part), then add under it
        fresh_in, fresh_out = self._fresh()
        n = self._count_inputs(fresh_in, inputs, columns)
        fresh_out.update(outputs)
        with self._lock:
            slot_in, slot_out = self._slot(self._clock())
            slot_in.merge(fresh_in)
            slot_out.merge(fresh_out)
            self.rows += n

    def _count_inputs(self, counts: DriftCounts, inputs: Any,
                      columns: Sequence[str] | None) -> int:
        """Count the inputs into ``counts``; returns the rows. A 2-D array goes to the
        block counting as it is, without a Python step per column."""
        if isinstance(inputs, Mapping) or (hasattr(inputs, "columns") and columns is None):
            batch = inputs if isinstance(inputs, Mapping) else \
                {c: inputs[c] for c in self.columns if c in inputs.columns}
            counts.update(batch)
            return max((len(v) for v in batch.values()), default=0)
        names = list(columns) if columns is not None else list(self.columns)
        # rows of mixed values (lists) stay objects, as a frame's rows would
        matrix = np.asarray(inputs, dtype=None if columns is not None or
                            isinstance(inputs, np.ndarray) else object)
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ValueError(f"expected a 2-D array with {len(names)} columns "
                             f"({', '.join(names)}), got shape {matrix.shape}")
        counts.update_matrix(matrix, names)
        return int(matrix.shape[0])

    def _merged(self) -> tuple[DriftCounts, DriftCounts]:
        with self._lock:
            self._slot(self._clock())
            inputs, outputs = self._fresh()
            for slot_in, slot_out in self._ring.values():
                inputs.merge(slot_in)
                outputs.merge(slot_out)
        return inputs, outputs

    def drift(self) -> DataDrift:
        """The inputs' drift over the sketch's window."""
        return self._merged()[0].compare(self.thresholds)

    def prediction_drift(self) -> DataDrift:
        """The predictions' drift over the sketch's window."""
        return self._merged()[1].compare(self.thresholds)

    def to_bytes(self) -> bytes:
        """The window's counts as bytes, for another process serving the same version to
        merge into its own view (``to_dict(merge=...)``)."""
        inputs, outputs = self._merged()
        first = inputs.to_bytes()
        return len(first).to_bytes(8, "little") + first + outputs.to_bytes()

    def to_dict(self, merge: Sequence[bytes] = ()) -> dict[str, Any]:
        """What a management route answers with: both drifts and the window.

        Args:
            merge: other processes' windows of the same version (:meth:`to_bytes`), added
                to this one's (the workers of one server).
        """
        inputs, outputs = self._merged()
        for data in merge:
            size = int.from_bytes(data[:8], "little")
            inputs.add_bytes(data[8:8 + size])
            outputs.add_bytes(data[8 + size:])
        return {"model": self.profile.model, "version": self.profile.version,
                "reference": self.profile.source, "window_s": self.window_s,
                "rows": sum(c.n + c.missing for c in list(inputs.columns.values())[:1]),
                "drift": inputs.compare(self.thresholds).to_dict(),
                "prediction_drift": outputs.compare(self.thresholds).to_dict()}

    def reset(self) -> None:
        """Forget everything counted (e.g. after the served version changed)."""
        with self._lock:
            self._ring.clear()
            self.rows = 0
