"""Prometheus metrics of the prediction service, per model and version.

Each app has its own registry (tests start several apps in one process). Label children are
cached, so recording a request costs a dictionary lookup and a few additions.

In a worker of ``serve --workers N`` (``PROMETHEUS_MULTIPROC_DIR`` set by the supervisor
before the process started) the values live in prometheus-client's multiprocess files and
``/metrics`` answers the sum over every worker, those that died included, so a counter
never goes backwards when a worker is replaced; gauges say how they combine
(``multiprocess_mode``), and the prediction log's counts are copied into such metrics
every second and at each scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "ServeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256,
                    0.512, 1.024, 2.048, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


_FOLD_AT = 512  # answered requests tallied before they go into the metrics (one process)


class _Tally:
    """Answered requests of one version not yet in the Prometheus metrics."""

    __slots__ = ("latency", "requests", "rows", "rows_metric", "seconds")

    def __init__(self, requests: Any, latency: Any, rows: Any) -> None:
        self.requests = requests
        self.latency = latency
        self.rows_metric = rows
        self.rows = 0
        self.seconds: list[float] = []

    def fold(self) -> None:
        """Add the tallied requests to the metrics: one increment per bucket, not per
        request (prometheus-client's histogram keeps a value per bucket and one sum)."""
        seconds, self.seconds = self.seconds, []
        rows, self.rows = self.rows, 0
        if not seconds:
            return
        self.requests.inc(len(seconds))
        self.rows_metric.inc(rows)
        buckets = getattr(self.latency, "_buckets", None)
        bounds = getattr(self.latency, "_upper_bounds", None)
        total = getattr(self.latency, "_sum", None)
        if buckets is None or bounds is None or total is None or len(seconds) < 8:
            for s in seconds:
                self.latency.observe(s)
            return
        # the bucket of each value is the first bound >= it, as Histogram.observe picks
        counts = np.bincount(np.searchsorted(bounds, seconds, side="left"),
                             minlength=len(bounds))
        for i in np.flatnonzero(counts).tolist():
            buckets[i].inc(int(counts[i]))
        total.inc(float(np.sum(seconds)))


class _LogCollector(Collector):
    def __init__(self, read: Callable[[], tuple[int, int, int]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Any]:
        written, dropped, queued = self._read()
        c = CounterMetricFamily("modelyard_prediction_log_rows",
                                "Rows written to, or dropped from, the prediction log",
                                labels=["outcome"])
        c.add_metric(["written"], written)
        c.add_metric(["dropped"], dropped)
        yield c
        yield GaugeMetricFamily("modelyard_prediction_log_queued_rows",
                                "Rows waiting for the prediction log writer", value=queued)


class ServeMetrics:
    """The service's metrics and the text ``/metrics`` answers with."""

    def __init__(self) -> None:
        #: the multiprocess folder of a multi-worker server; ``None`` in a single process
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("modelyard_requests", "Prediction requests answered",
                                ["model", "version", "status"], registry=r)
        self.latency = Histogram("modelyard_request_latency_seconds",
                                 "Time from request to prediction", ["model", "version"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.errors = Counter("modelyard_errors", "Requests answered with an error",
                              ["model", "status", "error"], registry=r)
        self.batch_size = Histogram("modelyard_batch_size", "Rows per model call",
                                    ["model", "version"], buckets=_BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("modelyard_batch_seconds", "Time of one model call",
                                       ["model", "version"], buckets=_LATENCY_BUCKETS,
                                       registry=r)
        self.rows = Counter("modelyard_predicted_rows", "Rows predicted",
                            ["model", "version"], registry=r)
        self.loaded = Gauge("modelyard_model_loaded",
                            "1 for the version each served reference answers with",
                            ["ref", "version"], registry=r, multiprocess_mode="livemax")
        self._shown: set[tuple[str, str]] = set()
        self.swaps = Counter("modelyard_swaps", "Versions swapped in after an alias moved",
                             ["ref"], registry=r)
        self.challenger = Counter(
            "modelyard_challenger_predictions",
            "A rollout's challenger outside the requests it answered: shadow predictions "
            "(ok, error, skipped) and canary failures answered by the champion (fallback)",
            ["model", "version", "stage", "outcome"], registry=r)
        self._ok: dict[tuple[str, int], _Tally] = {}
        self._fold_at = 1 if self.multiprocess_dir is not None else _FOLD_AT
        # which process the counters belong to: monitoring compares readings only within
        # one server's life (counters restart at 0 with every process)
        self.started = Gauge("modelyard_server_started_seconds",
                             "When this server started (epoch seconds; with several "
                             "workers, when their parent started)",
                             registry=r, multiprocess_mode="max")
        if self.multiprocess_dir is None:  # a worker gets its parent's (``_worker``)
            self.started.set(time.time())
        self._read_log: Callable[[], tuple[int, int, int]] | None = None
        self._log_synced = (0, 0)
        self._aggregate: CollectorRegistry | None = None
        if self.multiprocess_dir is not None:
            self._aggregate = CollectorRegistry()
            MultiProcessCollector(self._aggregate, self.multiprocess_dir)  # type: ignore[no-untyped-call]

    def watch_log(self, read: Callable[[], tuple[int, int, int]]) -> None:
        """Export the prediction log's written, dropped and queued rows."""
        if self.multiprocess_dir is None:
            self.registry.register(_LogCollector(read))
            return
        self._read_log = read
        self._log_rows = Counter("modelyard_prediction_log_rows",
                                 "Rows written to, or dropped from, the prediction log",
                                 ["outcome"], registry=self.registry)
        self._log_queued = Gauge("modelyard_prediction_log_queued_rows",
                                 "Rows waiting for the prediction log writer",
                                 registry=self.registry, multiprocess_mode="livesum")

    def sync(self) -> None:
        """Copy the prediction log's counts into the multiprocess metrics (a worker, every
        second and before each scrape); nothing to do in a single process."""
        if self._read_log is None:
            return
        written, dropped, queued = self._read_log()
        last_written, last_dropped = self._log_synced
        self._log_synced = (written, dropped)
        if written > last_written:
            self._log_rows.labels("written").inc(written - last_written)
        if dropped > last_dropped:
            self._log_rows.labels("dropped").inc(dropped - last_dropped)
        self._log_queued.set(queued)

    def show_loaded(self, versions: list[tuple[str, int]]) -> None:
        """Set ``modelyard_model_loaded`` to 1 for each ``(ref, version)`` answering now and
        to 0 for those that no longer do (a multiprocess gauge cannot forget a label)."""
        now = {(ref, str(v)) for ref, v in versions}
        for gone in self._shown - now:
            if self.multiprocess_dir is None:
                self.loaded.remove(*gone)
            else:
                self.loaded.labels(*gone).set(0)
        for ref, v in now:
            self.loaded.labels(ref, v).set(1)
        self._shown = now

    def observe_ok(self, model: str, version: int, seconds: float, rows: int) -> None:
        """Record one answered prediction request.

        In one process the request is only tallied here (a list append) and the tallies go
        into the Prometheus metrics every ``_FOLD_AT`` requests and before each scrape, in
        one step per version: the text ``/metrics`` answers is exact all the same. A worker
        of several writes each request through at once, since any worker may answer the
        scrape and must see every other worker's answered requests.
        """
        tally = self._ok.get((model, version))
        if tally is None:
            v = str(version)
            tally = self._ok[(model, version)] = _Tally(
                self.requests.labels(model, v, "200"), self.latency.labels(model, v),
                self.rows.labels(model, v))
        tally.rows += rows
        seconds_ = tally.seconds
        seconds_.append(seconds)
        if len(seconds_) >= self._fold_at:
            tally.fold()

    def observe_challenger(self, model: str, version: int, stage: str, outcome: str,
                           rows: int = 0) -> None:
        """Record a shadow prediction or a canary fallback of a challenger version."""
        self.challenger.labels(model, str(version), stage, outcome).inc()
        if rows:
            self.rows.labels(model, str(version)).inc(rows)

    def observe_error(self, model: str, status: int, error: str) -> None:
        """Record a request answered with an error."""
        self.errors.labels(model, str(status), error).inc()
        self.requests.labels(model, "", str(status)).inc()

    def batch_observer(self, model: str, version: int) -> Callable[[int, float], None]:
        """A callback for :class:`MicroBatcher` recording batch sizes and call times."""
        size = self.batch_size.labels(model, str(version))
        seconds = self.batch_seconds.labels(model, str(version))

        def observe(rows: int, elapsed: float) -> None:
            size.observe(rows)
            seconds.observe(elapsed)

        return observe

    def fold(self) -> None:
        """Move every tallied request into the Prometheus metrics (``render`` does it)."""
        for tally in list(self._ok.values()):
            tally.fold()

    def render(self) -> bytes:
        """The Prometheus text format (every worker's sum, in a multi-worker server)."""
        self.fold()
        if self._aggregate is None:
            return bytes(generate_latest(self.registry))
        self.sync()
        return bytes(generate_latest(self._aggregate))
