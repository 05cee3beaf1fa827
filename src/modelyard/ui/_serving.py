"""Serving health over time from the prediction servers' own Prometheus metrics.

A background thread reads each server's ``/metrics`` every ``interval_s`` (or, inside
``modelyard serve --ui``, the server's registry directly) and keeps the counters of the last
``keep`` reads. Rates come from the difference of two reads: requests per second, the error
share, and latency percentiles from the difference of the latency histogram's buckets, per
model and version. Nothing is stored: restarting the dashboard starts the series afresh
(the monitor's stored windows hold the long history).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ServingPoint", "ServingSampler", "parse_counters", "summary"]

#: what the sampler keeps of one read: counters by (metric, labels)
Counters = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_counters(text: str) -> Counters:
    """The request, error and latency samples of a ``/metrics`` text."""
    out: Counters = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("modelyard_requests", "modelyard_request_latency_seconds"):
            continue
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


@dataclass(frozen=True)
class ServingPoint:
    """One model version's traffic between two reads.

    Attributes:
        at: the later read's time (epoch seconds).
        requests_per_s: answered and failed requests per second.
        error_rate: the share of requests answered with an error (``None`` without requests).
        p50_ms: median latency of answered requests (from histogram buckets).
        p95_ms: 95th percentile.
        p99_ms: 99th percentile.
    """

    at: float
    requests_per_s: float
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass
class _Source:
    name: str
    read: Callable[[], str]
    samples: deque[tuple[float, Counters]] = field(default_factory=deque)
    error: str = ""


class ServingSampler:
    """Reads servers' metrics on a timer and turns them into series per model version.

    Args:
        urls: base URLs of prediction servers (``http://127.0.0.1:8000``).
        local: ``name -> callable`` giving a ``/metrics`` text without HTTP (the server the
            dashboard is mounted in).
        interval_s: seconds between reads.
        keep: reads kept per server (``keep * interval_s`` seconds of history).

    Example:
        >>> sampler = ServingSampler(["http://127.0.0.1:8000"])  # doctest: +SKIP
        >>> sampler.start(); sampler.series()  # doctest: +SKIP
    """

    def __init__(self, urls: list[str] | None = None, *,
                 local: dict[str, Callable[[], str]] | None = None,
                 interval_s: float = 5.0, keep: int = 720) -> None:
        self.interval_s = interval_s
        self._sources = [_Source(u.rstrip("/"), self._http_reader(u)) for u in urls or []]
        self._sources += [_Source(n, r) for n, r in (local or {}).items()]
        for s in self._sources:
            s.samples = deque(maxlen=keep)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _http_reader(url: str) -> Callable[[], str]:
        def read() -> str:
            response = httpx.get(f"{url.rstrip('/')}/metrics", timeout=3.0)
            response.raise_for_status()
            return response.text
        return read

    @property
    def sources(self) -> list[tuple[str, str]]:
        """Each server's name and its last read error (empty when fine)."""
        return [(s.name, s.error) for s in self._sources]

    def sample(self) -> None:
        """Read every server once now."""
        for source in self._sources:
            try:
                counters = parse_counters(source.read())
            except (httpx.HTTPError, ValueError, OSError) as exc:
                source.error = f"could not read {source.name}/metrics: {exc}"
                continue
            source.error = ""
            with self._lock:
                source.samples.append((time.time(), counters))

    def start(self) -> None:
        """Read now, then every ``interval_s`` on a daemon thread, until :meth:`stop`."""
        if self._thread is not None or not self._sources:
            return
        self.sample()

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self.sample()

        self._thread = threading.Thread(target=loop, name="modelyard-ui-serving", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def series(self) -> dict[tuple[str, str], list[ServingPoint]]:
        """``(model, version) -> points`` over the kept reads of every server; version
        ``all`` is the model's whole traffic, including requests that failed before a
        version was picked (which is where most errors are counted)."""
        with self._lock:
            snapshots = [list(s.samples) for s in self._sources]
        out: dict[tuple[str, str], list[ServingPoint]] = {}
        for samples in snapshots:
            for (t0, a), (t1, b) in itertools.pairwise(samples):
                for key, point in _points(a, b, t1 - t0, t1).items():
                    out.setdefault(key, []).append(point)
        for points in out.values():
            points.sort(key=lambda p: p.at)
        return dict(sorted(out.items()))


def _points(a: Counters, b: Counters, dt: float, at: float) -> dict[tuple[str, str], ServingPoint]:
    if dt <= 0:
        return {}
    requests: dict[tuple[str, str], list[float]] = {}
    buckets: dict[tuple[str, str], dict[float, float]] = {}
    for (name, labels), value in b.items():
        d = dict(labels)
        delta = max(value - a.get((name, labels), 0.0), 0.0)
        model, version = d.get("model", ""), d.get("version", "")
        keys = [(model, "all")] + ([(model, version)] if version else [])
        for key in keys:
            if name == "modelyard_requests_total":
                ok_err = requests.setdefault(key, [0.0, 0.0])
                ok_err[0 if d.get("status") == "200" else 1] += delta
            elif name == "modelyard_request_latency_seconds_bucket":
                le = float("inf") if d["le"] == "+Inf" else float(d["le"])
                hist = buckets.setdefault(key, {})
                hist[le] = hist.get(le, 0.0) + delta
    out: dict[tuple[str, str], ServingPoint] = {}
    for key in set(requests) | set(buckets):
        ok, err = requests.get(key, [0.0, 0.0])
        total = ok + err
        cumulative = sorted(buckets.get(key, {}).items())
        out[key] = ServingPoint(
            at=at, requests_per_s=total / dt, error_rate=err / total if total else None,
            p50_ms=_quantile(cumulative, 0.5), p95_ms=_quantile(cumulative, 0.95),
            p99_ms=_quantile(cumulative, 0.99))
    return out


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float | None:
    """A quantile in ms from cumulative ``(le, count)`` buckets, linear inside a bucket."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    target = q * cumulative[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in cumulative:
        if count >= target:
            if le == float("inf"):
                return prev_le * 1000
            inside = (target - prev_count) / (count - prev_count) if count > prev_count else 1
            return (prev_le + (le - prev_le) * inside) * 1000
        prev_le, prev_count = le, count
    return prev_le * 1000


def summary(points: list[ServingPoint]) -> dict[str, Any]:
    """The newest point of a series as a dict (for tables and JSON)."""
    if not points:
        return {}
    p = points[-1]
    return {"at": p.at, "requests_per_s": p.requests_per_s, "error_rate": p.error_rate,
            "p50_ms": p.p50_ms, "p95_ms": p.p95_ms, "p99_ms": p.p99_ms}
