"""The one background thread per process that writes buffered metric values and heartbeats.

``ActiveRun.log_metric`` only appends a tuple to its run's :class:`RunBuffer` (a deque, whose
``append`` and ``popleft`` are atomic), so logging costs microseconds whatever the database.
The writer wakes every ``metric_flush_interval_s`` (or early, when a buffer holds
``metric_flush_max_rows`` values), moves every buffered value out and inserts them in one
transaction per store; it also refreshes ``heartbeat_at`` every ``run_heartbeat_s``.

A failed write keeps its values at the front of their buffers for the next attempt and
records the error on the buffer; ``ActiveRun.end`` flushes synchronously and raises it if the
values still cannot be written, so no error is lost silently. The thread exits when no run is
open and starts again with the next run; a forked child starts with an empty writer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..config import Settings

__all__ = ["MetricValue", "MetricWriter", "RunBuffer", "writer"]

log = logging.getLogger("modelyard.tracking")

#: One buffered metric value: (run_id, key, value, step, timestamp).
MetricValue = tuple[str, str, float, int, float]


class RunBuffer:
    """The metric values of one open run waiting to be written.

    Args:
        run_id: the run.
        repo: the ``RunRepository`` of the run's store.
        settings: the store's settings (flush interval, max rows, heartbeat).
    """

    __slots__ = ("error", "last_beat", "repo", "run_id", "settings", "values")

    def __init__(self, run_id: str, repo: Any, settings: Settings) -> None:
        self.run_id = run_id
        self.repo = repo
        self.settings = settings
        self.values: deque[MetricValue] = deque()
        self.error: BaseException | None = None
        self.last_beat = time.time()


class MetricWriter:
    """Flushes every open run's buffer from one daemon thread.

    Example:
        >>> w = writer()  # the process-wide instance  # doctest: +SKIP
        >>> w.register(buffer); w.flush([buffer])  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()  # guards _buffers and _thread
        self._flush_lock = threading.Lock()  # one flush (move + write) at a time
        self._wake = threading.Event()
        self._buffers: dict[str, RunBuffer] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- registration -------------------------------------------------------------------

    def register(self, buffer: RunBuffer) -> None:
        """Start flushing a run's buffer, starting the thread if it is not running."""
        with self._lock:
            self._buffers[buffer.run_id] = buffer
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(
                    target=self._loop, name="modelyard-metric-writer", daemon=True
                )
                self._thread.start()

    def unregister(self, buffer: RunBuffer) -> None:
        """Stop flushing a run's buffer in the background (its owner flushes it at end)."""
        with self._lock:
            self._buffers.pop(buffer.run_id, None)
        self._wake.set()

    def wake(self) -> None:
        """Flush now rather than at the next interval."""
        self._wake.set()

    @property
    def thread(self) -> threading.Thread | None:
        """The writer thread, while one runs."""
        return self._thread

    # -- flushing -----------------------------------------------------------------------

    def flush(self, buffers: Iterable[RunBuffer]) -> None:
        """Write every value buffered in ``buffers`` now, one transaction per store.

        Errors are recorded on the buffers (``buffer.error``) and their values kept for the
        next attempt; this method itself does not raise.
        """
        with self._flush_lock:
            self._flush_locked(list(buffers))

    def _flush_locked(self, buffers: Sequence[RunBuffer]) -> None:
        groups: dict[int, list[tuple[RunBuffer, list[MetricValue]]]] = {}
        for buf in buffers:
            n = len(buf.values)
            if n:
                popleft = buf.values.popleft
                rows = [popleft() for _ in range(n)]
                groups.setdefault(id(buf.repo), []).append((buf, rows))
        for items in groups.values():
            repo = items[0][0].repo
            try:
                repo.insert_metrics([v for _, rows in items for v in rows])
            except Exception as exc:
                if len(items) == 1:
                    self._keep(items[0][0], items[0][1], exc)
                    continue
                # Try run by run, so one broken run does not hold back the others.
                for buf, rows in items:
                    try:
                        repo.insert_metrics(rows)
                    except Exception as one_exc:
                        self._keep(buf, rows, one_exc)
                    else:
                        buf.error = None
            else:
                for buf, _ in items:
                    buf.error = None

    def drain(self, buffer: RunBuffer, write: Callable[[list[MetricValue]], None]) -> bool:
        """Move every value out of ``buffer`` and hand them to ``write`` (a run's last write).

        Returns:
            Whether ``write`` succeeded; if not, the values are back in the buffer and the
            error is on ``buffer.error``.
        """
        with self._flush_lock:
            popleft = buffer.values.popleft
            rows = [popleft() for _ in range(len(buffer.values))]
            try:
                write(rows)
            except Exception as exc:
                self._keep(buffer, rows, exc)
                return False
            buffer.error = None
            return True

    @staticmethod
    def _keep(buf: RunBuffer, rows: list[MetricValue], exc: BaseException) -> None:
        buf.values.extendleft(reversed(rows))
        if buf.error is None:
            log.warning("could not write %d metric values of run %s (will retry): %s",
                        len(rows), buf.run_id, exc)
        buf.error = exc

    def _beat(self, buffers: Sequence[RunBuffer]) -> None:
        now = time.time()
        due: dict[int, list[RunBuffer]] = {}
        for buf in buffers:
            if now - buf.last_beat >= buf.settings.run_heartbeat_s:
                due.setdefault(id(buf.repo), []).append(buf)
        for bufs in due.values():
            try:
                bufs[0].repo.heartbeat([b.run_id for b in bufs], now)
            except Exception as exc:
                log.warning("could not record the heartbeat of %d runs: %s", len(bufs), exc)
            else:
                for b in bufs:
                    b.last_beat = now

    def _loop(self) -> None:
        while True:
            with self._lock:
                buffers = list(self._buffers.values())
                if self._stopping or not buffers:
                    self._thread = None
                    return
            wait_s = min(min(b.settings.metric_flush_interval_s, b.settings.run_heartbeat_s)
                         for b in buffers)
            self._wake.wait(max(wait_s, 0.001))
            self._wake.clear()
            with self._flush_lock:
                # Only buffers still registered: an ended run's store may be closed by now.
                with self._lock:
                    buffers = list(self._buffers.values())
                try:
                    self._flush_locked(buffers)
                    self._beat(buffers)
                except Exception:  # pragma: no cover - a bug; never kill the thread
                    log.exception("the metric writer failed")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread (at interpreter exit), after it finishes its current flush."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)


_WRITER = MetricWriter()


def writer() -> MetricWriter:
    """The process-wide metric writer."""
    return _WRITER


if hasattr(os, "register_at_fork"):
    # A forked child has no writer thread and must not write its parent's buffers.
    os.register_at_fork(after_in_child=_WRITER._reset)
