"""Shadow and canary routing: the server's side of a rollout.

The loop opens, advances and ends rollouts in the store (``store.rollouts``); the server
reads the open ones with its registry poll (``swap_poll_interval_s``) and follows them:

- when a rollout opens, its challenger version is loaded in the background (never on a
  request) and held loaded while the rollout is open; until it is loaded, the champion
  answers everything;
- ``shadow``: the champion answers; the challenger predicts the same rows off the response
  path, logged with alias ``shadow``;
- ``canary``: ``canary_share`` of requests, picked by hashing the request id (so a retry
  with the same ``X-Request-ID`` goes the same way), are answered by the challenger; one it
  fails or does not answer within ``canary_timeout_ms`` is answered by the champion;
- each version's predictions are remembered by request id (``_labels``, bounded), so the
  labels ``POST /v1/models/{name}/feedback`` brings score it: ``labelled`` and
  ``accuracy`` (``mae`` for a regressor) per version in ``/stats``;
- when the rollout ends the route goes at the next poll and the challenger is unloaded
  (unless the champion alias moved to it: then it answers, swapped in without a reload).

Only requests for ``name`` or ``name@champion`` answered by the rollout's champion version
are routed; a request naming a version (``name@N``, ``name/versions/N``) never is. With no
open rollout a request pays one dictionary lookup.

With ``serve --workers N`` each worker routes by the same rollout (all poll the store) and
:meth:`Router.share` joins them: every ``FLUSH_S`` a worker writes its counters, latencies
and the predictions it remembered to the shared database (``_shared``), ``/stats`` merges
every worker's rows, and feedback is scored against the predictions of whichever worker
made them (waiting, when a label finds no prediction yet, until every worker has written
what it answered before the feedback arrived).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..registry import Models
from ..store import Rollout, RolloutRepository
from ._labels import RecentPredictions
from ._models import LoadedVersion, ModelTable
from ._shared import FLUSH_S, AnswerRow, SharedState, StatsRow

__all__ = ["RolloutRoute", "Router", "VersionStats"]

_LOG = logging.getLogger("modelyard.serve")
_SAMPLES = 8192  # latencies kept per version for the percentiles
_LATENCY_TICKS = 5  # a worker writes its latency samples every 5th flush (0.5 s)
_COUNTERS = ("requests", "errors", "fallbacks", "labelled", "correct", "abs_error",
             "regression", "since")


class VersionStats:
    """Live counters and recent latencies of one version during a rollout.

    ``requests`` counts the requests (or shadow copies) the version was asked to predict,
    ``errors`` those it failed (raised, or missed the canary budget), ``fallbacks`` the
    canary requests the champion answered instead (each is also an error). Latencies (of
    the successful ones, in ms) are the newest 8,192. ``labelled`` counts its predictions
    that feedback labelled, ``correct`` those equal to the label (as values, or as text)
    and ``abs_error`` their summed absolute error (regressors).
    """

    def __init__(self, role: str) -> None:
        self.role = role
        self.requests = 0
        self.errors = 0
        self.fallbacks = 0
        self.labelled = 0
        self.correct = 0
        self.abs_error = 0.0
        self.regression = False
        self.since = time.time()
        self._latency_ms = np.empty(_SAMPLES)
        self._n = 0

    def observe(self, seconds: float) -> None:
        """Count one successful prediction and its latency."""
        self.requests += 1
        self._latency_ms[self._n % _SAMPLES] = seconds * 1000.0
        self._n += 1

    def fail(self, *, fallback: bool = False) -> None:
        """Count one failed prediction (and whether the champion answered instead)."""
        self.requests += 1
        self.errors += 1
        self.fallbacks += int(fallback)

    def observe_label(self, prediction: Any, label: Any) -> None:
        """Score one of the version's predictions against its true label."""
        if self.regression:
            try:
                error = abs(float(prediction) - float(label))
            except (TypeError, ValueError):
                return  # not a number: nothing to score
            if math.isfinite(error):
                self.labelled += 1
                self.abs_error += error
            return
        self.labelled += 1
        self.correct += int(prediction == label or str(prediction) == str(label))

    def snapshot(self) -> tuple[str, bytes]:
        """The counters as JSON and the kept latencies as bytes (for the shared place)."""
        return (json.dumps({k: getattr(self, k) for k in _COUNTERS}),
                self._latency_ms[:min(self._n, _SAMPLES)].tobytes())

    @classmethod
    def merged(cls, role: str, parts: list[tuple[str, bytes]]) -> VersionStats:
        """The sum of several workers' :meth:`snapshot` s (every latency kept)."""
        out = cls(role)
        if not parts:
            return out
        for body, _ in parts:
            counts = json.loads(body)
            for k in ("requests", "errors", "fallbacks", "labelled", "correct", "abs_error"):
                setattr(out, k, getattr(out, k) + counts[k])
            out.regression = out.regression or bool(counts["regression"])
        out.since = min(float(json.loads(body)["since"]) for body, _ in parts)
        out._latency_ms = np.concatenate([np.frombuffer(b) for _, b in parts])
        out._n = len(out._latency_ms)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``GET /v1/models/{name}/stats`` shows for the version."""
        kept = self._latency_ms[:min(self._n, len(self._latency_ms))]
        if len(kept):
            p50, p95, p99 = (round(float(v), 3) for v in np.percentile(kept, [50, 95, 99]))
            latency: dict[str, float | None] = {"p50": p50, "p95": p95, "p99": p99}
        else:
            latency = {"p50": None, "p95": None, "p99": None}
        out: dict[str, Any] = {"role": self.role, "requests": self.requests, "errors": self.errors,
                               "fallbacks": self.fallbacks, "latency_ms": latency,
                               "since": self.since, "labelled": self.labelled,
                               "accuracy": None}
        if self.regression:
            out["mae"] = round(self.abs_error / self.labelled, 6) if self.labelled else None
        elif self.labelled:
            out["accuracy"] = round(self.correct / self.labelled, 6)
        return out


@dataclass(eq=False)
class RolloutRoute:
    """One open rollout the server follows.

    Attributes:
        rollout: the rollout as last read from the store (stage and share may change).
        challenger: the challenger version once loaded.
        error: why loading the challenger failed, if it did.
        stats: live stats by version number (reset with each new rollout).
        recent: the versions' recent predictions, to score feedback with.
    """

    rollout: Rollout
    challenger: LoadedVersion | None = None
    error: str | None = None
    stats: dict[int, VersionStats] = field(default_factory=dict)
    recent: RecentPredictions = field(default_factory=RecentPredictions)
    #: answers not yet written to the shared place (``None``: one process, kept in recent)
    pending: list[tuple[str, int, bool, np.ndarray[Any, Any]]] | None = None

    def __post_init__(self) -> None:
        self.stats[self.rollout.champion_version] = VersionStats("champion")
        self.stats[self.rollout.challenger_version] = VersionStats("challenger")

    @property
    def champion_stats(self) -> VersionStats:
        """The champion's stats."""
        return self.stats[self.rollout.champion_version]

    @property
    def challenger_stats(self) -> VersionStats:
        """The challenger's stats."""
        return self.stats[self.rollout.challenger_version]

    def remember(self, request_id: str, loaded: LoadedVersion,
                 predictions: np.ndarray[Any, Any]) -> None:
        """Keep what a version of the rollout predicted for a request, to score labels."""
        stats = self.stats.get(loaded.version.version)
        if stats is None:  # a version outside the rollout answered (the champion moved)
            return
        stats.regression = loaded.predictor.signature.outputs.task == "regression"
        if self.pending is not None:
            self.pending.append((request_id, loaded.version.version, stats.regression,
                                 predictions))
            return
        self.recent.remember(request_id, loaded.version.version, predictions)

    def score(self, labels: list[tuple[str, int, Any]]) -> int:
        """Score the versions' remembered predictions against ``(request_id, row,
        label)``; returns how many predictions were scored."""
        scored = 0
        for version, prediction, label in self.recent.match(labels):
            self.stats[version].observe_label(prediction, label)
            scored += 1
        return scored

    def routes(self, answering: LoadedVersion, alias: str | None) -> bool:
        """Whether a request answered by ``answering`` through ``alias`` is routed."""
        return (self.challenger is not None and alias in (None, "champion")
                and answering.version.version == self.rollout.champion_version
                and answering is not self.challenger)

    def to_canary(self, request_id: str) -> bool:
        """Whether the challenger answers this request (canary stage; stable per id)."""
        share = self.rollout.canary_share
        if self.rollout.stage != "canary" or share <= 0.0:
            return False
        return zlib.crc32(request_id.encode()) < share * 4294967296.0

    def describe(self) -> dict[str, Any]:
        """The rollout as ``/stats`` shows it."""
        out = dataclasses.asdict(self.rollout)
        out["challenger_loaded"] = self.challenger is not None
        if self.error:
            out["error"] = self.error
        return out


class Router:
    """The open rollouts of the served models, refreshed with the registry poll.

    Args:
        table: the served models (challengers are loaded and held through it).
        models: the registry.
        rollouts: the store's rollouts.
        on_loaded: called on the event loop with each challenger once loaded.
    """

    def __init__(self, table: ModelTable, models: Models, rollouts: RolloutRepository,
                 on_loaded: Callable[[LoadedVersion], None] | None = None) -> None:
        self._table = table
        self._models = models
        self._rollouts = rollouts
        self._on_loaded = on_loaded
        #: open rollouts by model name; empty when none is open (the request path reads it)
        self.routes: dict[str, RolloutRoute] = {}
        self._loading: set[asyncio.Task[None]] = set()
        self._shared: SharedState | None = None
        self._pid = 0
        self._flushing = asyncio.Lock()
        self._ticks = 0

    def share(self, shared: SharedState, pid: int) -> None:
        """Merge this router's rollouts with the other workers' through ``shared``."""
        self._shared, self._pid = shared, pid

    async def refresh(self) -> None:
        """Read the open rollouts; start, update or end the routes they imply."""
        found = await asyncio.to_thread(self._rollouts.open_rollouts)
        names = {s.name for s in self._table.served.values()}
        wanted = {r.model: r for r in found if r.model in names}
        for name, route in list(self.routes.items()):
            r = wanted.get(name)
            if r is None or r.id != route.rollout.id \
                    or r.challenger_version != route.rollout.challenger_version:
                self._end(name)
        for name, r in wanted.items():
            known = self.routes.get(name)
            if known is not None:
                known.rollout = r  # a new stage or share takes effect now
                continue
            route = self.routes[name] = RolloutRoute(
                r, pending=None if self._shared is None else [])
            _LOG.info("rollout %d of %s: %s of version %d against %d", r.id, name, r.stage,
                      r.challenger_version, r.champion_version)
            task = asyncio.get_running_loop().create_task(self._load(route))
            self._loading.add(task)
            task.add_done_callback(self._loading.discard)

    async def _load(self, route: RolloutRoute) -> None:
        r = route.rollout
        try:
            version = await asyncio.to_thread(
                self._models.get, f"{r.model}/versions/{r.challenger_version}")
            loaded = await self._table.acquire(version)
        except Exception as exc:  # keep serving with the champion alone
            route.error = f"cannot load the challenger: {exc}"
            _LOG.error("rollout %d of %s: %s", r.id, r.model, route.error)
            return
        if self.routes.get(r.model) is not route:  # ended while loading
            self._table.release(loaded)
            return
        route.challenger = loaded
        if self._on_loaded is not None:
            self._on_loaded(loaded)

    def _end(self, name: str) -> None:
        route = self.routes.pop(name)
        _LOG.info("rollout %d of %s is over; routing back to the champion",
                  route.rollout.id, name)
        challenger, route.challenger = route.challenger, None
        if challenger is not None:
            self._table.release(challenger)

    def stats(self, name: str) -> dict[str, Any]:
        """The ``/stats`` JSON of model ``name``."""
        route = self.routes.get(name)
        if route is None:
            return {"model": name, "rollout": None, "versions": {}}
        return {"model": name, "rollout": route.describe(),
                "versions": {str(v): s.to_dict() for v, s in route.stats.items()}}

    async def read_stats(self, name: str) -> dict[str, Any]:
        """The ``/stats`` JSON of model ``name``, merged over every worker when shared."""
        route = self.routes.get(name)
        shared = self._shared
        if route is None or shared is None:
            return self.stats(name)
        arrived = time.time()
        await self.flush(latencies=True)
        live = await self._caught_up(shared, arrived)
        rows = await asyncio.to_thread(shared.stats, route.rollout.id)
        parts: dict[int, list[tuple[str, bytes]]] = {}
        loaded_at: set[int] = set()
        challenger = route.rollout.challenger_version
        for pid, version, loaded, body, latency in rows:
            parts.setdefault(version, []).append((body, latency))
            if loaded and version == challenger:
                loaded_at.add(pid)
        # From the route read on arrival: a poll may end it while this waited on the others.
        out: dict[str, Any] = {"model": name, "rollout": route.describe()}
        out["rollout"]["challenger_loaded"] = route.challenger is not None and \
            live <= loaded_at
        out["versions"] = {str(v): VersionStats.merged(s.role, parts.get(v, [])).to_dict()
                           for v, s in route.stats.items()}
        return out

    async def score(self, name: str, labels: list[tuple[str, int, Any]]) -> int:
        """Score labels ``(request_id, row, label)`` of ``name``'s open rollout; returns
        how many predictions were scored (0 with no rollout open)."""
        route = self.routes.get(name)
        if route is None:
            return 0
        shared = self._shared
        if shared is None:
            return route.score(labels)
        arrived = time.time()
        await self.flush()
        rollout = route.rollout.id
        matched, unmatched = await asyncio.to_thread(shared.match, rollout, labels)
        if unmatched:  # answered by another worker that has not written it yet
            await self._caught_up(shared, arrived)
            more, _ = await asyncio.to_thread(shared.match, rollout, unmatched)
            matched += more
        for version, regression, prediction, label in matched:
            stats = route.stats.get(version)
            if stats is not None:
                stats.regression = stats.regression or regression
                stats.observe_label(prediction, label)
        return len(matched)

    async def _caught_up(self, shared: SharedState, arrived: float) -> set[int]:
        """Wait (at most ``20 * FLUSH_S``) until every other ready worker has written what
        it answered before ``arrived``; returns the ready workers' pids."""
        live = await asyncio.to_thread(shared.live_pids)
        others = live - {self._pid}
        deadline = time.monotonic() + 20 * FLUSH_S
        while time.monotonic() < deadline and not await asyncio.to_thread(
                shared.flushed_since, others, arrived):
            await asyncio.sleep(FLUSH_S / 4)
        return live

    async def flush(self, *, latencies: bool = False) -> None:
        """Write this worker's counters and remembered answers to the shared place (and its
        latencies, up to 64 KB a version, when asked or every ``_LATENCY_TICKS`` calls)."""
        shared = self._shared
        if shared is None:
            return
        async with self._flushing:
            self._ticks += 1
            latencies = latencies or self._ticks % _LATENCY_TICKS == 0
            at = time.time()
            work: list[tuple[int | None, list[StatsRow], list[Any]]] = []
            for route in self.routes.values():
                pending, route.pending = route.pending or [], []
                challenger = route.rollout.challenger_version
                stats: list[StatsRow] = []
                for v, s in route.stats.items():
                    counters, samples = s.snapshot()
                    stats.append((v, v != challenger or route.challenger is not None,
                                  counters, samples if latencies else None))
                work.append((route.rollout.id, stats, pending))
            routes = list(self.routes.values())
            if not work:
                work.append((None, [], []))

            def write() -> None:
                for rollout, stats, pending in work:
                    answers: list[AnswerRow] = [(rid, v, reg, json.dumps(p.tolist()))
                                                for rid, v, reg, p in pending]
                    shared.flush(self._pid, rollout, stats, answers, at)
                if any(pending for _, _, pending in work):
                    shared.prune(min(r.rollout.id for r in routes))

            await asyncio.to_thread(write)

    async def close(self) -> None:
        """Stop loading challengers (their batchers close with the table)."""
        for task in list(self._loading):
            task.cancel()
        await asyncio.gather(*self._loading, return_exceptions=True)
        self.routes.clear()
