"""The place the workers of one ``modelyard serve --workers N`` share.

A private folder made by the parent for the server's life (``_supervisor``):

- ``metrics/``: prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``);
  ``/metrics`` sums every worker's, the dead ones' counters included;
- ``ready/<slot>``: the pid of the worker in that slot, once its models are loaded
  (the parent removes it when the worker dies); ``beat/<slot>``: touched every second by
  the worker's event loop, so the parent can tell a hung worker;
- ``shared.db``: SQLite (WAL) where each worker writes, every ``FLUSH_S``, its rollout
  counters and latencies, the predictions its rollout versions made (to score feedback
  that reaches another worker), and its live drift sketches. The worker answering
  ``/stats`` or the live view writes its own first and merges everyone's rows; rows are
  kept by pid, so what a dead worker counted still counts.

Nothing here runs on the request path: a prediction appends to a list in memory, and the
worker's flusher thread writes the list.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["FLUSH_S", "SharedState", "Workers"]

#: how often a worker writes its rollout counters, predictions and sketches
FLUSH_S = 0.1
#: predictions (answered requests, every version together) kept to score feedback
KEPT_ANSWERS = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stats (
    rollout INTEGER NOT NULL, pid INTEGER NOT NULL, version INTEGER NOT NULL,
    loaded INTEGER NOT NULL, body TEXT NOT NULL, latency BLOB NOT NULL,
    PRIMARY KEY (rollout, pid, version));
CREATE TABLE IF NOT EXISTS answers (
    rollout INTEGER NOT NULL, request_id TEXT NOT NULL, version INTEGER NOT NULL,
    regression INTEGER NOT NULL, predictions TEXT NOT NULL, labelled TEXT NOT NULL,
    PRIMARY KEY (rollout, request_id, version));
CREATE TABLE IF NOT EXISTS flushes (pid INTEGER PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sketches (
    pid INTEGER NOT NULL, version_id INTEGER NOT NULL, at REAL NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (pid, version_id));
"""

#: a stats row: (version, challenger loaded here, counters as JSON, latency samples or
#: ``None`` to keep those written before)
StatsRow = tuple[int, bool, str, "bytes | None"]
#: a remembered answer: (request id, version, regression, predictions as JSON)
AnswerRow = tuple[str, int, bool, str]


class Workers(Protocol):
    """What the routes ask of the other workers (``_worker.Worker``)."""

    def readiness(self) -> tuple[bool, dict[str, int]]:
        """Whether every worker is ready, and ``{"expected": n, "ready": k}``."""


class SharedState:
    """The shared folder of one multi-worker server (see the module docstring).

    Args:
        root: the folder (made by :meth:`create`).
        workers: how many worker slots the server has.

    Example:
        >>> shared = SharedState.create(Path(tempfile.mkdtemp()), 2)  # doctest: +SKIP
        >>> shared.mark_ready(0, os.getpid())  # doctest: +SKIP
    """

    def __init__(self, root: Path, workers: int) -> None:
        self.root = root
        self.workers = workers
        self.metrics_dir = root / "metrics"
        self._ready = root / "ready"
        self._beat = root / "beat"
        self._db_path = root / "shared.db"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls, root: Path, workers: int) -> SharedState:
        """Make the folders and the database (the parent, before any worker starts)."""
        shared = cls(root, workers)
        for folder in (shared.metrics_dir, shared._ready, shared._beat):
            folder.mkdir(parents=True, exist_ok=True)
        with shared._lock:
            shared._connect().executescript(_SCHEMA)
        shared.close()
        return shared

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self._db_path, timeout=10, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # lives as long as the server: no fsync
            self._db = db
        return self._db

    def close(self) -> None:
        """Close this process's database connection."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- readiness and heartbeats (files: the parent reads them without SQLite) -----

    def mark_ready(self, slot: int, pid: int) -> None:
        """Say that the worker ``pid`` in ``slot`` has loaded its models."""
        tmp = self._ready / f".{slot}.{pid}"
        tmp.write_text(str(pid))
        os.replace(tmp, self._ready / str(slot))

    def ready_pid(self, slot: int) -> int | None:
        """The pid of the ready worker in ``slot``, if any."""
        try:
            return int((self._ready / str(slot)).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def live_pids(self) -> set[int]:
        """The pids of the ready workers."""
        return {p for s in range(self.workers) if (p := self.ready_pid(s)) is not None}

    def beat(self, slot: int) -> None:
        """Touch ``slot``'s heartbeat (the worker's event loop, every second)."""
        (self._beat / str(slot)).touch()

    def heartbeat_age(self, slot: int) -> float | None:
        """Seconds since ``slot``'s last heartbeat; ``None`` before the first."""
        try:
            return time.time() - (self._beat / str(slot)).stat().st_mtime
        except FileNotFoundError:
            return None

    def forget(self, slot: int, pid: int) -> None:
        """A worker died: drop its marker, heartbeat and live gauges (the parent)."""
        from prometheus_client import multiprocess

        if self.ready_pid(slot) == pid:
            (self._ready / str(slot)).unlink(missing_ok=True)
        (self._beat / str(slot)).unlink(missing_ok=True)
        multiprocess.mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]

    # -- rollouts --------------------------------------------------------------------

    def flush(self, pid: int, rollout: int | None, stats: Iterable[StatsRow],
              answers: Iterable[AnswerRow], at: float) -> None:
        """Write this worker's counters and new answers of ``rollout`` in one transaction,
        and record that everything it answered before ``at`` is written."""
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                if rollout is not None:
                    db.executemany(
                        "INSERT INTO stats VALUES (?, ?, ?, ?, ?, COALESCE(?, x'')) "
                        "ON CONFLICT DO UPDATE SET loaded = excluded.loaded, "
                        "body = excluded.body, latency = CASE WHEN ? IS NULL THEN latency "
                        "ELSE excluded.latency END",
                        [(rollout, pid, v, int(loaded), body, latency, latency)
                         for v, loaded, body, latency in stats])
                    db.executemany(
                        "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, '0')",
                        [(rollout, rid, v, int(reg), p) for rid, v, reg, p in answers])
                db.execute("INSERT OR REPLACE INTO flushes VALUES (?, ?)", (pid, at))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def prune(self, oldest_open: int) -> None:
        """Forget all but the newest ``KEPT_ANSWERS`` answers, and the stats and answers of
        rollouts older than ``oldest_open`` (the oldest open one: ids only grow)."""
        with self._lock:
            db = self._connect()
            db.execute("DELETE FROM answers WHERE rowid <= (SELECT MAX(rowid) FROM answers) "
                       "- ? OR rollout < ?", (KEPT_ANSWERS, oldest_open))
            db.execute("DELETE FROM stats WHERE rollout < ?", (oldest_open,))

    def stats(self, rollout: int) -> list[tuple[int, int, bool, str, bytes]]:
        """Every worker's ``(pid, version, loaded, counters, latencies)`` for ``rollout``."""
        with self._lock:
            rows = self._connect().execute(
                "SELECT pid, version, loaded, body, latency FROM stats WHERE rollout = ?",
                (rollout,)).fetchall()
        return [(int(p), int(v), bool(loaded), str(b), bytes(lat))
                for p, v, loaded, b, lat in rows]

    def flushed_since(self, pids: Iterable[int], at: float) -> bool:
        """Whether each of ``pids`` has flushed after ``at``."""
        wanted = set(pids)
        if not wanted:
            return True
        with self._lock:
            rows = self._connect().execute(
                f"SELECT pid FROM flushes WHERE at > ? AND pid IN "
                f"({','.join('?' * len(wanted))})", (at, *wanted)).fetchall()
        return len(rows) == len(wanted)

    def match(self, rollout: int, labels: list[tuple[str, int, Any]]
              ) -> tuple[list[tuple[int, bool, Any, Any]], list[tuple[str, int, Any]]]:
        """Score labels ``(request_id, row, label)`` against the answers of ``rollout``:
        returns ``(version, regression, prediction, label)`` for each answered row not
        labelled before (now marked labelled), and the labels no answer matched."""
        import json

        ids = sorted({rid for rid, _, _ in labels})
        found: dict[str, list[list[Any]]] = {}
        matched: list[tuple[int, bool, Any, Any]] = []
        unmatched: list[tuple[str, int, Any]] = []
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")  # one scorer at a time: a row is scored once
            try:
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    for rid, v, reg, preds, bits in db.execute(
                            "SELECT request_id, version, regression, predictions, labelled "
                            f"FROM answers WHERE rollout = ? AND request_id IN "
                            f"({','.join('?' * len(chunk))})", (rollout, *chunk)):
                        found.setdefault(rid, []).append(
                            [int(v), bool(reg), json.loads(preds), int(bits), False])
                for rid, row, label in labels:
                    answers = found.get(rid)
                    if not answers:
                        unmatched.append((rid, row, label))
                        continue
                    for answer in answers:
                        version, reg, preds, bits, _ = answer
                        if row >= len(preds) or bits >> row & 1:
                            continue
                        answer[3], answer[4] = bits | 1 << row, True
                        matched.append((version, reg, preds[row], label))
                db.executemany(
                    "UPDATE answers SET labelled = ? WHERE rollout = ? AND request_id = ? "
                    "AND version = ?", [(str(a[3]), rollout, rid, a[0])
                                        for rid, answers in found.items()
                                        for a in answers if a[4]])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return matched, unmatched

    # -- live sketches ----------------------------------------------------------------

    def write_sketch(self, pid: int, version_id: int, body: bytes) -> None:
        """Store this worker's current sketch window of a version."""
        with self._lock:
            self._connect().execute("INSERT OR REPLACE INTO sketches VALUES (?, ?, ?, ?)",
                                    (pid, version_id, time.time(), body))

    def sketches(self, version_id: int, *, besides: int, newer_than: float) -> list[bytes]:
        """The other workers' sketch windows of a version written after ``newer_than``."""
        with self._lock:
            rows = self._connect().execute(
                "SELECT body FROM sketches WHERE version_id = ? AND pid != ? AND at > ?",
                (version_id, besides, newer_than)).fetchall()
        return [bytes(b) for (b,) in rows]
