"""Time windows over the prediction log, read in batches into additive counters.

A window is ``hourly`` or ``daily`` (aligned to UTC hours and days) or ``last:N`` (the
newest N logged predictions). The log is read one record batch at a time; every batch's
rows are counted into their window's counters (drift buckets, health histogram, labelled
predictions) and then dropped, so memory does not grow with the window's size (only with
its labelled rows and the number of windows).

Rows are told apart by the version that predicted them and by whether they were served:
a rollout's shadow rows (alias ``shadow``) repeat inputs the champion answered, so they are
left out of the served traffic (input drift, health, rows per version) and counted only
for their own version. Each version's predictions and labelled rows are counted against
that version's own reference profile (:class:`VersionReferences`): right after a promotion
a window holds the old champion's rows and the new one's, and neither is measured against
the other's predictions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInput, ModelyardError
from ._counts import DriftCounts
from ._health import HealthCounts
from ._logread import closed_parts, iter_prediction_log
from ._logstore import LogStore, open_log_store
from ._performance import LabelIndex, PerformanceCounts
from ._profile import ReferenceProfile

__all__ = ["VersionCounts", "VersionReferences", "WindowCounts", "WindowSpec", "parse_time",
           "parse_window", "prediction_columns", "scan_log"]

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


class VersionReferences:
    """The reference profile of each model version met in the log, looked up once.

    Args:
        reference: the pass's reference profile; it is what ``version``'s rows are
            compared with.
        version: the reference version's number.
        load: gives another version's profile (``Monitor.profile``); raising
            :class:`ModelyardError` means the version has none, and the message says why.

    Example:
        >>> refs = VersionReferences(profile, 3, load=lambda n: monitor.profile(
        ...     f"fraud/versions/{n}"))  # doctest: +SKIP
        >>> refs.get(1)[1]  # doctest: +SKIP
        'dataset fraud-data@1'
    """

    def __init__(self, reference: ReferenceProfile, version: int,
                 load: Callable[[int], ReferenceProfile] | None = None) -> None:
        self.reference = reference
        self.version = version
        self._load = load
        self._found: dict[int, tuple[ReferenceProfile | None, str]] = {
            version: (reference, reference.source)}

    def get(self, version: int) -> tuple[ReferenceProfile | None, str]:
        """``version``'s profile and its source, or ``None`` and why it has none."""
        found = self._found.get(version)
        if found is None:
            if self._load is None:
                found = (None, "no reference: only the reference version's is known")
            else:
                try:
                    profile = self._load(version)
                    found = (profile, profile.source)
                except ModelyardError as exc:
                    found = (None, f"no reference: {exc.message}")
            self._found[version] = found
        return found


@dataclass
class VersionCounts:
    """One version's rows in a window, counted against that version's own reference.

    Attributes:
        version: the version number.
        source: what its predictions are compared with, or why with nothing.
        predictions: its prediction columns in its reference's buckets.
        performance: its labelled predictions.
        profile: its reference profile, ``None`` when it has none.
        served: rows it answered.
        shadow: rows it predicted in shadow (beside the version that answered).
    """

    version: int
    source: str
    predictions: DriftCounts
    performance: PerformanceCounts
    profile: ReferenceProfile | None = None
    served: int = 0
    shadow: int = 0

    @classmethod
    def empty(cls, version: int, refs: VersionReferences) -> VersionCounts:
        """Empty counts of ``version``, in its reference's buckets."""
        profile, source = refs.get(version)
        classes = (profile or refs.reference).classes
        return cls(version, source, DriftCounts(profile.predictions if profile else {}),
                   PerformanceCounts(classes=classes), profile=profile)

    def update(self, batch: pa.RecordBatch, labels: LabelIndex, *,
               rows: np.ndarray | None, shadow: np.ndarray | None,
               matched: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> None:
        """Count this version's rows of ``batch`` (``rows``: a mask, ``None`` for all)."""
        n = batch.num_rows if rows is None else int(rows.sum())
        n_shadow = 0 if shadow is None else int(
            shadow.sum() if rows is None else (shadow & rows).sum())
        self.served += n - n_shadow
        self.shadow += n_shadow
        if self.profile is not None:
            columns = prediction_columns(batch, self.profile)
            if rows is not None:
                mask = pa.array(rows)
                columns = {k: pc.filter(v, mask) for k, v in columns.items()}
            self.predictions.update(columns)
        self.performance.update(batch, labels, rows=rows, matched=matched)


@dataclass
class WindowCounts:
    """Everything counted for one window so far.

    Attributes:
        start: the window's start (epoch seconds).
        end: its end.
        drift: the served rows' inputs (every version's: inputs do not depend on it).
        health: the served rows' requests and latency.
        by_version: each version's predictions, against its own reference.
    """

    start: float
    end: float
    drift: DriftCounts
    health: HealthCounts = field(default_factory=HealthCounts)
    by_version: dict[int, VersionCounts] = field(default_factory=dict)

    @property
    def versions(self) -> dict[int, int]:
        """Served rows by the version that answered them."""
        return {v: c.served for v, c in sorted(self.by_version.items()) if c.served}

    @property
    def rows(self) -> int:
        """Logged rows, served and shadow."""
        return sum(c.served + c.shadow for c in self.by_version.values())

    def update(self, batch: pa.RecordBatch, refs: VersionReferences,
               labels: LabelIndex) -> None:
        """Count one batch of this window's log rows."""
        shadow = _shadow_rows(batch)
        served = batch if shadow is None else batch.filter(pa.array(~shadow))
        names = set(batch.schema.names)
        self.drift.update({n: served.column(f"input.{n}") for n in refs.reference.features
                           if f"input.{n}" in names})
        self.health.update(served)
        numbers = np.asarray(pc.fill_null(batch.column("version"), refs.version).to_numpy(
            zero_copy_only=False), dtype=np.int64)
        matched = labels.match(batch) if len(labels) else None
        found = np.unique(numbers)
        for number in found.tolist():
            counts = self.by_version.get(number)
            if counts is None:
                counts = self.by_version[number] = VersionCounts.empty(number, refs)
            counts.update(batch, labels, rows=None if found.size == 1 else numbers == number,
                          shadow=shadow, matched=matched)


def _shadow_rows(batch: pa.RecordBatch) -> np.ndarray | None:
    """A mask of the shadow rows, or ``None`` when there are none."""
    if "alias" not in batch.schema.names:
        return None
    mask = pc.fill_null(pc.equal(batch.column("alias"), "shadow"), False)
    if not pc.any(mask).as_py():
        return None
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


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


def _new(refs: VersionReferences, start: float, end: float) -> WindowCounts:
    return WindowCounts(start, end, DriftCounts(refs.reference.features))


def _last_batches(root: LogStore, model: str, last: int,
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
    paths = closed_parts(root, model)
    sizes = []
    for path in paths:
        with root.open_part(path) as part:
            sizes.append(part.metadata.num_rows)
    skip = max(sum(sizes) - last, 0)
    for path, size in zip(paths, sizes, strict=True):
        if skip >= size:
            skip -= size
            continue
        with root.open_part(path) as part:
            for batch in part.iter_batches():
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                yield batch.slice(skip)
                skip = 0


def scan_log(
    root: str | os.PathLike[str] | LogStore,
    model: str,
    spec: WindowSpec,
    refs: VersionReferences,
    labels: LabelIndex,
    *,
    since: float | None = None,
    until: float | None = None,
) -> list[WindowCounts]:
    """Read ``model``'s log in batches and count each row into its window.

    Args:
        root: the prediction log folder or URL.
        model: the model name.
        spec: how windows are cut.
        refs: the reference profile of each version (the pass's reference for inputs).
        labels: the feedback labels to join.
        since: only rows from then on (epoch seconds).
        until: only rows before then.

    Returns:
        The windows that have rows, oldest first.
    """
    windows: dict[int, WindowCounts] = {}
    root = open_log_store(root)
    if spec.kind == "last":
        counts = _new(refs, 0.0, 0.0)
        for batch in _last_batches(root, model, spec.last, until):
            if since is not None:
                batch = batch.filter(pc.greater_equal(
                    batch.column("ts"), pa.scalar(int(since * 1e6), pa.int64()).cast(
                        pa.timestamp("us", tz="UTC"))))
            if batch.num_rows:
                counts.update(batch, refs, labels)
        if counts.rows == 0:
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
                counts_ = windows[window_id] = _new(refs, start, start + spec.size_s)
            counts_.update(part, refs, labels)
    return [windows[k] for k in sorted(windows)]
