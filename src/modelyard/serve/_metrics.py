"""Prometheus metrics of the prediction service, per model and version.

Each app has its own registry (tests start several apps in one process). Label children are
cached, so recording a request costs a dictionary lookup and a few additions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "ServeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256,
                    0.512, 1.024, 2.048, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


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
                            ["ref", "version"], registry=r)
        self.swaps = Counter("modelyard_swaps", "Versions swapped in after an alias moved",
                             ["ref"], registry=r)
        self.challenger = Counter(
            "modelyard_challenger_predictions",
            "A rollout's challenger outside the requests it answered: shadow predictions "
            "(ok, error, skipped) and canary failures answered by the champion (fallback)",
            ["model", "version", "stage", "outcome"], registry=r)
        self._ok: dict[tuple[str, int], tuple[Any, Any, Any]] = {}
        # which process the counters belong to: monitoring compares readings only within
        # one server's life (counters restart at 0 with every process)
        self.started = Gauge("modelyard_server_started_seconds",
                             "When this server process started (epoch seconds)",
                             registry=r)
        self.started.set(time.time())

    def watch_log(self, read: Callable[[], tuple[int, int, int]]) -> None:
        """Export the prediction log's written, dropped and queued rows."""
        self.registry.register(_LogCollector(read))

    def observe_ok(self, model: str, version: int, seconds: float, rows: int) -> None:
        """Record one answered prediction request."""
        children = self._ok.get((model, version))
        if children is None:
            v = str(version)
            children = self._ok[(model, version)] = (
                self.requests.labels(model, v, "200"), self.latency.labels(model, v),
                self.rows.labels(model, v))
        children[0].inc()
        children[1].observe(seconds)
        children[2].inc(rows)

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

    def render(self) -> bytes:
        """The Prometheus text format."""
        return bytes(generate_latest(self.registry))
