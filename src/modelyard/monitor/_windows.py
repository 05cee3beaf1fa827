"""Time windows over the prediction log, read in batches into additive counters.

A window is ``hourly`` or ``daily`` (aligned to UTC hours and days) or ``last:N`` (the
newest N logged predictions). The log is read one record batch at a time; every batch's
rows are counted into their window's counters (drift buckets, health histogram, labelled
predictions) and then dropped, so memory does not grow with the window's size (only with
its labelled rows and the number of windows).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InvalidInput
from ._drift import DriftCounts
from ._health import HealthCounts
from ._log import _parts, iter_prediction_log
from ._performance import LabelIndex, PerformanceCounts
from ._profile import ReferenceProfile

__all__ = ["WindowCounts", "WindowSpec", "parse_time", "parse_window", "scan_log"]

_SIZES = {"hourly": 3600, "daily": 86400}


@dataclass(frozen=True)
class WindowSpec:
    """How the log is cut into windows.

    Attributes:
        kind: ``hourly``, ``daily`` or ``last``.
        size_s: the length of a time window.
        last: for ``last``, how many predictions.
    """

    kind: str
    size_s: int = 0
    last: int = 0

    def __str__(self) -> str:
        return f"last:{self.last}" if self.kind == "last" else self.kind


def parse_window(text: str | WindowSpec) -> WindowSpec:
    """Read ``hourly``, ``daily`` or ``last:N``.

    Raises:
        InvalidInput: anything else.

    Example:
        >>> parse_window("last:1000").last
        1000
    """
    if isinstance(text, WindowSpec):
        return text
    value = str(text).strip().lower()
    if value in _SIZES:
        return WindowSpec(value, size_s=_SIZES[value])
    match = re.fullmatch(r"last:(\d+)", value)
    if match and int(match.group(1)) > 0:
        return WindowSpec("last", last=int(match.group(1)))
    raise InvalidInput(f"window {text!r} is not one of: hourly, daily, last:N (e.g. last:10000)")


def parse_time(value: str | float | datetime | None) -> float | None:
    """Epoch seconds from epoch seconds, a datetime (naive is UTC) or ISO 8601 text."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"{value!r} is not a time; use ISO 8601 like "
                               "2026-01-31T12:00 or epoch seconds") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass
class WindowCounts:
    """Everything counted for one window so far."""

    start: float
    end: float
    drift: DriftCounts
    predictions: DriftCounts
    health: HealthCounts = field(default_factory=HealthCounts)
    performance: PerformanceCounts = field(default_factory=PerformanceCounts)
    versions: dict[int, int] = field(default_factory=dict)

    def update(self, batch: pa.RecordBatch, profile: ReferenceProfile,
               labels: LabelIndex) -> None:
        """Count one batch of this window's log rows."""
        names = set(batch.schema.names)
        self.drift.update({n: batch.column(f"input.{n}") for n in profile.features
                           if f"input.{n}" in names})
        self.predictions.update(prediction_columns(batch, profile))
        self.health.update(batch)
        self.performance.update(batch, labels)
        counted = pc.value_counts(batch.column("version"))
        for version, n in zip(counted.field("values").to_pylist(),
                              counted.field("counts").to_pylist(), strict=True):
            if version is not None:
                self.versions[int(version)] = self.versions.get(int(version), 0) + int(n)


def prediction_columns(batch: pa.RecordBatch | pa.Table,
                       profile: ReferenceProfile) -> dict[str, Any]:
    """The log columns that the profile's prediction statistics describe."""
    names = set(batch.schema.names)
    out: dict[str, Any] = {}
    if "prediction" in profile.predictions and "prediction" in names:
        out["prediction"] = batch.column("prediction")
    if "score" in profile.predictions and profile.classes:
        column = f"proba.{profile.classes[-1]}"
        if column in names:
            out["score"] = batch.column(column)
    return out


def _new(profile: ReferenceProfile, start: float, end: float) -> WindowCounts:
    return WindowCounts(start, end, DriftCounts(profile.features),
                        DriftCounts(profile.predictions),
                        performance=PerformanceCounts(classes=profile.classes))


def _last_batches(root: Path, model: str, last: int,
                  until: float | None) -> Iterator[pa.RecordBatch]:
    if until is not None:
        # with an end time the row count per file is unknown without reading: keep a tail
        tail: list[pa.RecordBatch] = []
        kept = 0
        for batch in iter_prediction_log(root, model, None, until):
            tail.append(batch)
            kept += batch.num_rows
            while tail and kept - tail[0].num_rows >= last:
                kept -= tail.pop(0).num_rows
        skip = max(kept - last, 0)
        for batch in tail:
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            yield batch.slice(skip)
            skip = 0
        return
    paths = _parts(root, model)
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in paths]
    skip = max(sum(sizes) - last, 0)
    for path, size in zip(paths, sizes, strict=True):
        if skip >= size:
            skip -= size
            continue
        for batch in pq.ParquetFile(path).iter_batches():
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            yield batch.slice(skip)
            skip = 0


def scan_log(
    root: str | os.PathLike[str],
    model: str,
    spec: WindowSpec,
    profile: ReferenceProfile,
    labels: LabelIndex,
    *,
    since: float | None = None,
    until: float | None = None,
) -> list[WindowCounts]:
    """Read ``model``'s log in batches and count each row into its window.

    Returns:
        The windows that have rows, oldest first.
    """
    windows: dict[int, WindowCounts] = {}
    if spec.kind == "last":
        counts = _new(profile, 0.0, 0.0)
        for batch in _last_batches(Path(root), model, spec.last, until):
            if since is not None:
                batch = batch.filter(pc.greater_equal(
                    batch.column("ts"), pa.scalar(int(since * 1e6), pa.int64()).cast(
                        pa.timestamp("us", tz="UTC"))))
            if batch.num_rows:
                counts.update(batch, profile, labels)
        if counts.health.rows == 0:
            return []
        counts.start = counts.health.first_ts or 0.0
        counts.end = counts.health.last_ts or counts.start
        return [counts]
    size_us = spec.size_s * 1_000_000
    for batch in iter_prediction_log(root, model, since, until):
        ts = batch.column("ts").cast(pa.int64()).to_numpy()
        ids = ts // size_us
        lo, hi = int(ids.min()), int(ids.max())
        parts = [(lo, batch)] if lo == hi else [
            (int(i), batch.filter(pa.array(ids == i))) for i in np.unique(ids)]
        for window_id, part in parts:
            counts_ = windows.get(window_id)
            if counts_ is None:
                start = float(window_id * spec.size_s)
                counts_ = windows[window_id] = _new(profile, start, start + spec.size_s)
            counts_.update(part, profile, labels)
    return [windows[k] for k in sorted(windows)]
