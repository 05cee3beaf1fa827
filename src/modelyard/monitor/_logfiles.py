"""The prediction log's files on disk: the open part each writer appends to, sealing it into
Parquet, and recovering what a crashed writer left behind.

A writer appends each flush (every ``log_flush_interval_s``) to an Arrow IPC stream,
``.part-<stamp>-<pid>-<seq>.arrows``, written straight to the operating system (no user-space
buffer), so a killed process (SIGKILL, the OOM killer) loses only rows it had not flushed
yet. The stream is read back to its last complete batch even when the process died in the
middle of writing one. When a part is closed it is *sealed*: its rows are written to
``.part-....parquet.tmp``, renamed to ``part-....parquet`` (what readers read) and the stream
is removed. The writer holds an exclusive ``flock`` on its stream while it lives; a stream
nobody holds belongs to a dead writer, and :func:`recover_log_folder` (run by every writer on
start, by every reader, and by ``modelyard doctor``) seals it. Unreadable leftovers (a
``.parquet.tmp`` whose stream is gone: a sealing cut short, or a part of the format before
streams, which had no footer) are removed.

When the log lives on an object store (:mod:`._logstore`), the streams sit in a local spool
folder instead, and sealing is one PUT of the Parquet file to its own key; what is said
above of crashes and recovery holds unchanged.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..errors import StorageUnavailable
from ._logstore import LogStore, open_log_store

try:  # POSIX; elsewhere a writer's liveness is read from the pid in the file name
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LogPart", "LogRepair", "check_prediction_log", "read_stream", "recover_log_folder",
           "seal_stream"]

_LOG = logging.getLogger("modelyard.monitor")
# Uncompressed, and written by the calling thread alone: zstd cost about 5 us of CPU per
# logged row (1.4 ms per 256-row write, on Arrow's threads too), the largest part of a busy
# server's log writing, for little gain on float features; the sealed Parquet is compressed.
_OPTIONS = ipc.IpcWriteOptions(compression=None, use_threads=False)
# One write call per batch: the IPC writer emits each column buffer separately.
_BUFFER_BYTES = 1 << 20


def _lock(handle: IO[bytes]) -> bool:
    """Take the exclusive lock of an open stream without waiting; ``False`` if held."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _writer_alive(stream: Path) -> bool:
    """Whether a live writer holds ``stream`` (only used where ``flock`` does not exist)."""
    try:  # pragma: no cover - Windows
        pid = int(stream.name.split("-")[2])
        os.kill(pid, 0)
    except (ValueError, IndexError, OSError):
        return False
    return pid != os.getpid()  # pragma: no cover


def read_stream(path: Path) -> tuple[pa.Table | None, bool]:
    """Every complete batch of a (possibly cut-off) log stream.

    Args:
        path: the ``.arrows`` file.

    Returns:
        ``(table, complete)``: the rows (``None`` when not even the schema was written) and
        whether the stream ended cleanly.
    """
    batches: list[pa.RecordBatch] = []
    with pa.OSFile(str(path)) as source:
        try:
            reader = ipc.open_stream(source)
        except (OSError, pa.ArrowException):
            return None, False
        try:
            while True:
                batches.append(reader.read_next_batch())
        except StopIteration:
            complete = True
        except (OSError, pa.ArrowException):  # the writer died inside this batch
            complete = False
        return pa.Table.from_batches(batches, schema=reader.schema), complete


def _final_of(stream: Path) -> Path:
    return stream.with_name(stream.name[1:].removesuffix(".arrows") + ".parquet")


def seal_stream(stream: Path, store: LogStore | None = None) -> int:
    """Write a stream's rows as a closed Parquet part and remove the stream.

    In a folder the Parquet file is written under a temporary name and renamed; on an
    object store it is one PUT to its own key. Either way a crash here leaves the stream
    for the next recovery. The caller must hold the stream's lock.

    Args:
        stream: the ``.part-....arrows`` file.
        store: where closed parts go when the log is on an object store (``None``: beside
            the stream).

    Returns:
        The rows sealed (0 for an empty stream, which is just removed).

    Raises:
        OSError: the Parquet file could not be written (a full disk); the stream stays.
        StorageUnavailable: the object store could not be written; the stream stays.
    """
    final = _final_of(stream)
    remote = store if store is not None and store.remote else None
    model = stream.parent.name
    if remote.sealed(model, final.name) if remote is not None else final.exists():
        # sealed before; the process died before removing the stream
        stream.unlink(missing_ok=True)
        return 0
    table, complete = read_stream(stream)
    rows = 0 if table is None else table.num_rows
    if remote is not None and table is not None and rows:
        remote.put(model, final.name, table)
    elif table is not None and rows:
        tmp = final.with_name(f".{final.name}.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    if rows and not complete:
        _LOG.warning("prediction log: recovered %d rows of %s, cut off by a crash", rows,
                     stream.name)
    stream.unlink(missing_ok=True)
    return rows


@dataclass
class LogRepair:
    """What a recovery pass over the prediction log found and did.

    Attributes:
        recovered_files: streams of dead writers sealed into Parquet parts.
        recovered_rows: the rows in them.
        removed: unreadable leftovers removed (path, bytes).
        live: streams a running writer holds (left alone).
        failed: streams that could not be sealed now, with the reason (they stay).
    """

    recovered_files: int = 0
    recovered_rows: int = 0
    removed: list[tuple[str, int]] = field(default_factory=list)
    live: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: LogRepair) -> None:
        """Count ``other``'s findings into this one."""
        self.recovered_files += other.recovered_files
        self.recovered_rows += other.recovered_rows
        self.removed += other.removed
        self.live += other.live
        self.failed += other.failed


def _recover_stream(stream: Path, repair: LogRepair, store: LogStore | None) -> None:
    try:
        handle = open(stream, "rb")  # noqa: SIM115 - held across the seal for its lock
    except FileNotFoundError:  # sealed by its writer meanwhile
        return
    with handle:
        if not _lock(handle) or (fcntl is None and _writer_alive(stream)):
            repair.live += 1
            return
        try:
            if os.fstat(handle.fileno()).st_ino != stream.stat().st_ino:
                return  # removed and made again under the same name: not ours to seal
        except FileNotFoundError:
            return
        try:
            rows = seal_stream(stream, store)
        except (OSError, StorageUnavailable) as exc:
            repair.failed.append((str(stream), str(exc)))
            return
        if rows:
            repair.recovered_files += 1
            repair.recovered_rows += rows


def recover_log_folder(folder: Path, *, dry_run: bool = False,
                       store: LogStore | None = None) -> LogRepair:
    """Seal the streams of dead writers in one model's log folder and remove leftovers.

    Safe to run at any time, beside live writers: a stream a writer holds is left alone.

    Args:
        folder: ``<root>/<model>`` (for a log on an object store, the model's spool folder).
        dry_run: only count what would be done (streams of dead writers count as recovered
            files, with their rows).
        store: the object store their closed parts go to (``None``: the folder itself).

    Returns:
        What was found and done.

    Example:
        >>> recover_log_folder(Path(".modelyard/predictions/fraud"))  # doctest: +SKIP
        LogRepair(recovered_files=0, ...)
    """
    repair = LogRepair()
    if not folder.is_dir():
        return repair
    for stream in sorted(folder.glob(".part-*.arrows")):
        if dry_run:
            with open(stream, "rb") as handle:
                if not _lock(handle):
                    repair.live += 1
                    continue
            table, _ = read_stream(stream)
            repair.recovered_files += 1
            repair.recovered_rows += 0 if table is None else table.num_rows
            continue
        _recover_stream(stream, repair, store)
    for tmp in sorted(folder.glob(".part-*.parquet.tmp")):
        stream = tmp.with_name(tmp.name.removesuffix(".parquet.tmp") + ".arrows")
        if stream.exists():  # its writer is sealing it now, or it failed and will retry
            continue
        try:
            size = tmp.stat().st_size
            if not dry_run:
                tmp.unlink()
        except FileNotFoundError:  # renamed to its final name meanwhile
            continue
        repair.removed.append((str(tmp), size))
        if not dry_run:
            _LOG.warning("prediction log: removed %s (%d bytes), an unreadable leftover of a "
                         "crashed writer", tmp, size)
    return repair


def check_prediction_log(root: str | os.PathLike[str] | LogStore, *,
                         repair: bool = True) -> LogRepair:
    """Check every model's prediction log under ``root``; recover and clean what is safe.

    Streams of crashed writers are sealed into Parquet parts (no row they flushed is lost),
    unreadable leftovers removed; running writers' streams are left alone. For a log on an
    object store, this machine's spool is checked and its dead writers' parts uploaded.

    Args:
        root: the log's root folder (``.modelyard/predictions``) or URL
            (``s3://bucket/predictions``).
        repair: ``False`` only reports what would be done.

    Returns:
        The findings of all model folders together.

    Example:
        >>> check_prediction_log(".modelyard/predictions").recovered_rows  # doctest: +SKIP
        0
    """
    total = LogRepair()
    store = open_log_store(root)
    for folder in store.model_folders():
        total.add(recover_log_folder(folder, dry_run=not repair, store=store))
    return total


class LogPart:
    """One model's open part: an Arrow IPC stream this process holds locked.

    Args:
        folder: the model's log folder.
        schema: the rows' Arrow schema.
        seq: this writer's part counter (unique per process).
        store: where the part goes when closed, if not beside the stream (an object store).
    """

    def __init__(self, folder: Path, schema: pa.Schema, seq: int,
                 store: LogStore | None = None) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        # the token keeps names unique across machines writing to one bucket
        token = uuid.uuid4().hex[:8]
        self.stream = folder / f".part-{stamp}-{os.getpid()}-{seq:06d}-{token}.arrows"
        self.schema = schema
        self.store = store
        self.opened = time.monotonic()
        self._file: IO[bytes] = open(self.stream, "xb", buffering=_BUFFER_BYTES)  # noqa: SIM115
        if not _lock(self._file):  # pragma: no cover - a fresh name nobody else knows
            raise OSError(f"prediction log: {self.stream} is locked by another process")
        try:
            self._writer: Any = ipc.new_stream(self._file, schema, options=_OPTIONS)
        except BaseException:
            self._file.close()
            self.stream.unlink(missing_ok=True)
            raise
        self.broken = False

    def write(self, table: pa.Table) -> None:
        """Append ``table`` as one batch, handed to the operating system before returning.

        Raises:
            OSError: the write failed (a full disk); the part is marked broken, and the
                rows written before stay readable.
        """
        try:
            self._writer.write_table(table, max_chunksize=max(table.num_rows, 1))
            self._file.flush()
        except BaseException:
            self.broken = True
            raise

    def size(self) -> int:
        """Bytes written so far."""
        return self._file.tell()

    def close(self) -> int:
        """Seal the part into a closed Parquet file; returns the rows sealed.

        Raises:
            OSError: sealing failed; the stream stays, unlocked, for the next recovery.
        """
        try:
            if not self.broken:
                self._writer.close()  # the end-of-stream marker
        except OSError:
            pass  # a cut-off tail reads as a crash does: every complete batch
        try:
            return seal_stream(self.stream, self.store)
        finally:
            self._file.close()
