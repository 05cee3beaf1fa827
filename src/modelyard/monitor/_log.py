"""The prediction log's writer: every served prediction, appended off the request path.

Request handlers queue rows; one background thread writes them every
``flush_interval_s``, or as soon as 256 rows wait (so a busy server's rows go in small
steps, never in one long one that holds up its event loop), to the model's open part, an
Arrow IPC stream handed to the operating system after each write (files and recovery:
:mod:`._logfiles`; columns: :mod:`._logschema`). A part is sealed into a closed Parquet
file past ``rotate_bytes``, past ``rotate_s`` of age, when a model version with other
columns starts writing, or on :meth:`PredictionLog.close`. A crash (even SIGKILL) loses
only the rows not flushed yet, at most the last ``flush_interval_s`` of answers: what a
dead writer streamed is sealed by the next writer to start on the same folder, by any
reader, or by ``modelyard doctor``.

The root may be an object-store URL (``s3://bucket/predictions``): open parts then stay in
a local spool folder and each closed part is uploaded whole, in one PUT, to a key of its
own (:mod:`._logstore`). An upload that fails (the store unreachable) leaves the part in
the spool, and the writer tries again every ``_RETRY_S``.

Back-pressure: :meth:`PredictionLog.append` never blocks. When more than
``max_queue_rows`` rows wait for the writer (the disk cannot keep up), new rows are dropped
and counted in :attr:`PredictionLog.dropped_rows` (exported as a metric by the server)
instead: a slow disk must not slow or fail predictions. A graceful shutdown
(:meth:`PredictionLog.close`) writes everything that was accepted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..config import default
from ._logfiles import LogPart, recover_log_folder
from ._logindex import AnsweredIndex, find_logged, other_writers
from ._logschema import LogSchema, arrow_type
from ._logstore import open_log_store

__all__ = ["PredictionLog"]

_LOG = logging.getLogger("modelyard.monitor")
_RETRY_S = 10.0  # how soon a part that could not be sealed is tried again
# Rows per Arrow write (at least one entry's): building one holds the interpreter (about
# 0.5 ms for 256 one-row requests of 30 features); the writer yields it between writes, and
# is woken as soon as this many rows wait, so the server's event loop is never held up for
# a whole flush interval's rows at once.
_ROWS_PER_WRITE = 256


@dataclass(slots=True)
class _Entry:
    """One or more requests' rows, queued together (a server queues each batch it
    predicted as one entry); every per-request field has one value per request."""

    schema: LogSchema
    request_ids: Sequence[str]
    counts: Sequence[int]  # each request's rows
    ts_us: Sequence[int]
    aliases: Sequence[str | None]
    latency_ms: Sequence[float]
    status: int
    inputs: Any  # a 2-D array in schema order, or a list of records
    predictions: Any
    probabilities: Any
    n: int  # the rows of all the requests


def _column(values: Any, dtype: pa.DataType) -> pa.Array:
    """An Arrow array of ``dtype`` from a NumPy array or a list; NaN is null for non-floats."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and not pa.types.is_floating(
            dtype):
        mask = np.isnan(values)
        if pa.types.is_integer(dtype):
            return pa.array(np.where(mask, 0, values).astype(np.int64), type=dtype, mask=mask)
        if pa.types.is_boolean(dtype):
            return pa.array(np.where(mask, 0, values).astype(bool), type=dtype, mask=mask)
        values = [None if m else v for v, m in zip(values.tolist(), mask.tolist(), strict=True)]
    if pa.types.is_timestamp(dtype):
        import pandas as pd

        return pa.array(pd.to_datetime(pd.Series(values), utc=True, format="mixed"), type=dtype)
    try:
        return pa.array(values, type=dtype, from_pandas=True)
    except pa.ArrowException:
        pass
    try:
        return pa.array(values, from_pandas=True).cast(dtype)
    except pa.ArrowException:
        _LOG.warning("prediction log: values of type %s do not fit %s; logged as null",
                     type(values).__name__, dtype)
        return pa.nulls(len(values), type=dtype)


def _per_row(values: Sequence[Any], counts: np.ndarray[Any, Any], dtype: Any,
             single: bool) -> np.ndarray[Any, Any]:
    """One value per entry, repeated for each of its rows."""
    out = np.array(values, dtype=dtype)
    return out if single else np.repeat(out, counts)


def _stacked(parts: list[Any], counts: np.ndarray[Any, Any], width: int | None) -> Any:
    """The entries' arrays as one: concatenated as they are when each already has its
    rows' shape (a prediction server's arrays do), else reshaped one by one."""
    ndim = 1 if width is None else 2
    if all(isinstance(p, np.ndarray) and p.ndim == ndim for p in parts):
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if len(out) == int(counts.sum()) and (width is None or out.shape[1] == width):
            return out
    shape = (-1,) if width is None else (-1, width)
    return np.concatenate([np.asarray(p).reshape(*shape) for p in parts])


def _table(entries: Sequence[_Entry]) -> pa.Table:
    schema = entries[0].schema

    def each(field: str) -> list[Any]:
        return [v for e in entries for v in getattr(e, field)]

    counts = np.array(each("counts"), dtype=np.int64)
    total = int(counts.sum())
    single = bool((counts == 1).all())  # one row per request: nothing to repeat
    rows = np.zeros(total, dtype=np.int32) if single else \
        np.concatenate([np.arange(n, dtype=np.int32) for n in counts.tolist()])
    statuses = [e.status for e in entries for _ in e.counts]
    columns: dict[str, pa.Array] = {
        "request_id": pa.array(_per_row(each("request_ids"), counts, object, single),
                               type=pa.string()),
        "row": pa.array(rows),
        "ts": pa.array(_per_row(each("ts_us"), counts, np.int64, single),
                       type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "model": pa.array([schema.model] * total, type=pa.string()),
        "version": pa.array(np.full(total, schema.version, dtype=np.int32)),
        "alias": pa.array(_per_row(each("aliases"), counts, object, single),
                          type=pa.string()),
        "latency_ms": pa.array(_per_row(each("latency_ms"), counts, np.float64, single)),
        "status": pa.array(_per_row(statuses, counts, np.int16, single)),
    }
    names = [n for n, _ in schema.inputs]
    if all(isinstance(e.inputs, np.ndarray) for e in entries):
        matrix = np.concatenate([e.inputs for e in entries]) if len(entries) > 1 else \
            entries[0].inputs
        by_column = np.ascontiguousarray(matrix.T)  # each column's values side by side
        for j, (name, kind) in enumerate(schema.inputs):
            columns[f"input.{name}"] = _column(by_column[j], arrow_type(kind))
    else:
        records: list[Any] = []
        for e in entries:
            if isinstance(e.inputs, np.ndarray):
                records.extend(dict(zip(names, r, strict=True)) for r in e.inputs.tolist())
            else:
                records.extend(e.inputs)
        for name, kind in schema.inputs:
            columns[f"input.{name}"] = _column(
                [r.get(name) if isinstance(r, Mapping) else None for r in records],
                arrow_type(kind))
    if schema.prediction_type == "list":
        lists = [row for e in entries for row in np.asarray(e.predictions).reshape(e.n, -1)
                 .tolist()]
        columns["prediction"] = _column(lists, arrow_type("list"))
    else:
        predictions = _stacked([e.predictions for e in entries], counts, None)
        columns["prediction"] = _column(predictions, arrow_type(schema.prediction_type))
    if schema.classes:
        width = len(schema.classes)
        if all(e.probabilities is not None for e in entries):
            proba = _stacked([e.probabilities for e in entries], counts, width)
            proba = np.asarray(proba, dtype=np.float64)
        else:
            proba = np.concatenate([
                np.full((e.n, width), np.nan) if e.probabilities is None
                else np.asarray(e.probabilities, dtype=np.float64).reshape(e.n, width)
                for e in entries])
        for j, cls in enumerate(schema.classes):
            columns[f"proba.{cls}"] = pa.array(proba[:, j], from_pandas=True)  # NaN: null
    return pa.Table.from_arrays([columns[f.name] for f in schema.arrow], schema=schema.arrow)


def _chunks(entries: list[_Entry]) -> Iterable[list[_Entry]]:
    """The entries in runs of about ``_ROWS_PER_WRITE`` rows (one entry at least)."""
    chunk: list[_Entry] = []
    rows = 0
    for entry in entries:
        chunk.append(entry)
        rows += entry.n
        if rows >= _ROWS_PER_WRITE:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


class PredictionLog:
    """A background writer of the prediction log (the format: :mod:`._logschema`).

    Args:
        root: the folder holding one sub-folder per model, or an fsspec URL
            (``s3://bucket/predictions``).
        rotate_bytes: start a new file past this size.
        rotate_s: start a new file when the open one is this old.
        flush_interval_s: how often queued rows are written.
        max_queue_rows: rows that may wait in memory; past it, rows are dropped and counted.
        spool_dir: for a URL root, the local folder for open parts (by default one in the
            temporary directory, derived from the URL, shared by every process on the
            machine so that any can recover a crashed writer's parts).
        storage_options: for a URL root, the fsspec filesystem's keyword arguments (the
            ``AWS_*`` environment variables are read without them).

    Raises:
        InvalidInput: a URL whose backend is not installed.

    Example:
        >>> log = PredictionLog("/tmp/preds")  # doctest: +SKIP
        >>> log.append(schema, "r1", np.array([[1.5]]), np.array([0]))  # doctest: +SKIP
        >>> log.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        rotate_bytes: int = int(default("log_rotate_mb") * 1024 * 1024),
        rotate_s: float = default("log_rotate_s"),
        flush_interval_s: float = default("log_flush_interval_s"),
        max_queue_rows: int = default("log_max_queue_rows"),
        spool_dir: str | os.PathLike[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = open_log_store(root, spool_dir=spool_dir,
                                    storage_options=storage_options)
        #: the folder, or for an object store its URL (what readers are given)
        self.root: str | Path = self.store.url if self.store.remote else self.store.root
        self.rotate_bytes = rotate_bytes
        self.rotate_s = rotate_s
        self.flush_interval_s = flush_interval_s
        self.max_queue_rows = max_queue_rows
        self.dropped_rows = 0
        self.written_rows = 0
        self.files_written = 0
        self._queue: deque[_Entry] = deque()
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._parts: dict[str, LogPart] = {}
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._rotate_asked = threading.Event()
        self._rotated = threading.Event()
        self._retry_at: float | None = None
        self._answered = AnsweredIndex()
        self._scan_lock = threading.Lock()

    def start(self) -> PredictionLog:
        """Start the writer thread (``append`` starts it too); returns ``self``."""
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="modelyard-prediction-log",
                                                daemon=True)
                self._thread.start()
        return self

    @property
    def queued_rows(self) -> int:
        """Rows accepted but not written yet."""
        return self._queued_rows

    def append(
        self,
        schema: LogSchema,
        request_id: str,
        inputs: Any,
        predictions: Any,
        probabilities: Any = None,
        *,
        alias: str | None = None,
        latency_ms: float = 0.0,
        status: int = 200,
        ts: float | None = None,
    ) -> bool:
        """Queue one request's rows; never blocks.

        Args:
            schema: the model version's columns.
            request_id: the request's id.
            inputs: a 2-D array with the schema's input columns in order, or a list of
                records (dicts).
            predictions: one prediction per row.
            probabilities: one row of class probabilities per row, or ``None``.
            alias: the alias the caller used.
            latency_ms: the request's latency.
            status: the HTTP status.
            ts: when the request arrived (epoch seconds; now by default).

        Returns:
            ``False`` when the rows were dropped (queue full, or the log is closed).
        """
        n = len(inputs)
        stamp = time.time() if ts is None else ts
        return self._queue_entry(_Entry(
            schema, (request_id,), (n,), (int(stamp * 1_000_000),), (alias,),
            (float(latency_ms),), status, inputs, predictions, probabilities, n))

    def append_batch(
        self,
        schema: LogSchema,
        request_ids: Sequence[str],
        counts: Sequence[int],
        inputs: Any,
        predictions: Any,
        probabilities: Any = None,
        *,
        aliases: Sequence[str | None],
        latency_ms: Sequence[float],
        ts: Sequence[float],
        status: int = 200,
    ) -> bool:
        """Queue the rows of several requests answered together (one batch), their rows
        stacked in request order; never blocks. Costs about what one request's ``append``
        does, however many requests the batch holds.

        Args:
            schema: the model version's columns.
            request_ids: the requests' ids.
            counts: each request's rows.
            inputs: every request's rows, stacked: a 2-D array with the schema's input
                columns in order, or a list of records.
            predictions: one prediction per row.
            probabilities: one row of class probabilities per row, or ``None``.
            aliases: the alias each request used.
            latency_ms: each request's latency.
            ts: when each request arrived (epoch seconds).
            status: the HTTP status of all of them.

        Returns:
            ``False`` when the rows were dropped (queue full, or the log is closed).

        Raises:
            ValueError: the per-request lists differ in length, or the counts do not add
                up to the rows given.
        """
        n = len(inputs)
        if not len(request_ids) == len(counts) == len(aliases) == len(latency_ms) == len(ts):
            raise ValueError(
                f"append_batch: {len(request_ids)} request ids, {len(counts)} counts, "
                f"{len(aliases)} aliases, {len(latency_ms)} latencies and {len(ts)} times; "
                "give one of each per request")
        if sum(counts) != n:
            raise ValueError(f"append_batch: the counts add up to {sum(counts)} rows but "
                             f"{n} rows were given")
        return self._queue_entry(_Entry(
            schema, request_ids, counts, [int(t * 1_000_000) for t in ts], aliases,
            latency_ms, status, inputs, predictions, probabilities, n))

    def _queue_entry(self, entry: _Entry) -> bool:
        n = entry.n
        with self._lock:
            for request_id, rows in zip(entry.request_ids, entry.counts, strict=True):
                self._answered.add(entry.schema.model, request_id, rows)
            if self._closed or self._queued_rows + n > self.max_queue_rows:
                self.dropped_rows += n
                return False
            self._queue.append(entry)
            before = self._queued_rows
            self._queued_rows += n
            full = before // _ROWS_PER_WRITE != self._queued_rows // _ROWS_PER_WRITE
        if self._thread is None:
            self.start()
        elif full:  # write now: a busy server's rows go in small steps, not one long one
            self._wake.set()
        return True

    def answered(self, model: str, request_ids: Iterable[str], *,
                 wait: bool = True) -> dict[str, int]:
        """Which of ``request_ids`` were answered for ``model`` and logged, with their row
        counts: from this process's newest ids, else from the log (closed parts and this
        machine's open ones). Blocks (call it off the event loop). A lookup that reaches the
        log reads its ``request_id`` and ``row`` columns (about 0.7 s per million logged
        rows on a 2-core machine); such lookups run one at a time.

        Args:
            model: the model name.
            request_ids: the ids to look for.
            wait: when some are not found and another process (another worker) writes
                to the same log, wait one flush interval for its newest rows and look
                again.

        Returns:
            ``{request_id: rows}`` for the ids found.

        Raises:
            StorageUnavailable: the object store holding the log cannot be read.

        Example:
            >>> log.answered("fraud", ["3f2a..."])  # doctest: +SKIP
            {'3f2a...': 1}
        """
        ids = set(request_ids)
        with self._lock:
            found = self._answered.lookup(model, ids)
        missing = ids - found.keys()
        if not missing:
            return found
        # one scan of the log at a time: a flood of unknown ids costs one core at most
        with self._scan_lock:
            found.update(find_logged(self.store, model, missing))
            missing -= found.keys()
            if missing and wait and other_writers(self.store, model):
                time.sleep(self.flush_interval_s + 0.1)
                found.update(find_logged(self.store, model, missing))
        return found

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued row is written to an open part (readable after a crash,
        not yet sealed)."""
        self._wake.set()
        deadline = time.monotonic() + timeout
        while self._queued_rows and time.monotonic() < deadline:
            time.sleep(0.005)

    def rotate(self, timeout: float = 10.0) -> None:
        """Write every queued row and close the open files, so readers see them now
        (e.g. before a monitoring pass over the newest predictions)."""
        with self._lock:
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._rotated.clear()
        self._rotate_asked.set()
        self._wake.set()
        self._rotated.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write every accepted row, close and rename every open file, stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
        else:
            self._drain()
            self._close_parts()

    # -- the writer thread ---------------------------------------------------------------

    def _recover(self) -> None:
        """Seal what crashed writers left under the root (other live writers' parts stay)."""
        for folder in self.store.model_folders():
            try:
                repair = recover_log_folder(folder, store=self.store)
            except Exception:  # recovery must never stop the log from starting
                _LOG.exception("could not recover the prediction log in %s", folder)
                continue
            if repair.recovered_rows:
                _LOG.warning("prediction log: recovered %d rows in %d files of %s left by a "
                             "crashed writer", repair.recovered_rows, repair.recovered_files,
                             folder.name)

    def _run(self) -> None:
        self._recover()
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self._drain()
            self._rotate_old()
            if self._retry_at is not None and time.monotonic() >= self._retry_at:
                self._retry_at = None
                self._recover()
            if self._rotate_asked.is_set():
                self._rotate_asked.clear()
                self._drain()
                self._close_parts()
                self._rotated.set()
        self._drain()
        self._close_parts()

    def _drain(self) -> None:
        with self._lock:
            entries = list(self._queue)
            self._queue.clear()
        if not entries:
            return
        # by identity first (hashing a schema costs a walk over its columns), then equal
        # schemas together
        by_id: dict[int, list[_Entry]] = {}
        for e in entries:
            by_id.setdefault(id(e.schema), []).append(e)
        groups: dict[LogSchema, list[_Entry]] = {}
        for group in by_id.values():
            groups.setdefault(group[0].schema, []).extend(group)
        done = 0
        for schema, group in groups.items():
            for chunk in _chunks(group):
                rows = sum(e.n for e in chunk)
                try:
                    self._write(schema, _table(chunk))
                    self.written_rows += rows
                except Exception:  # a full disk or a bad value must not kill the writer
                    _LOG.exception("could not write %d prediction log rows of %s", rows,
                                   schema.model)
                    self.dropped_rows += rows
                done += rows
                time.sleep(0)  # let the event loop have the interpreter between writes
        with self._lock:
            self._queued_rows -= done

    def _write(self, schema: LogSchema, table: pa.Table) -> None:
        part = self._parts.get(schema.model)
        if part is not None and (part.broken or not part.schema.equals(schema.arrow)):
            self._close_part(schema.model)
            part = None
        if part is None:
            folder = self.store.root / schema.model
            folder.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            part = self._parts[schema.model] = LogPart(folder, schema.arrow, self._seq,
                                                       self.store)
        part.write(table)
        if part.size() >= self.rotate_bytes:
            self._close_part(schema.model)

    def _rotate_old(self) -> None:
        now = time.monotonic()
        for model in [m for m, p in self._parts.items() if now - p.opened >= self.rotate_s]:
            self._close_part(model)

    def _close_part(self, model: str) -> None:
        part = self._parts.pop(model)
        try:
            part.close()
            self.files_written += 1
        except Exception:  # the stream stays for the next recovery
            _LOG.exception("could not seal prediction log file %s", part.stream)
            self._retry_at = time.monotonic() + _RETRY_S

    def _close_parts(self) -> None:
        for model in list(self._parts):
            self._close_part(model)
