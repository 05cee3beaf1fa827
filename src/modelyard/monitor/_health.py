"""Service health of a window: request rate, latency quantiles and errors.

Latency comes from the prediction log, one value per request (its row 0), counted into a
fixed log-spaced histogram (50 bins a decade from 1 µs to 1000 s), so windows of any size
take constant memory and merge by adding; a quantile read from it is within 2.3% of the
exact one.

Errors: the log holds only answered predictions (status 200), so it cannot give an error
rate. The server's ``/metrics`` counts every request by status; when monitoring is given
the server's URL it reads the counters (``modelyard_requests_total`` by ``status``). The
error rate of a window is the change of the 5xx count (the service's own failures) over the
change of the total since the previous reading stored with the last window; 4xx answers
(the caller's mistakes: bad input, missing keys) are a measure of their own,
``client_error_rate``, which no default alert reads. A reading is compared only with one of
the same server process (``modelyard_server_started_seconds``): after a restart, or the
first time, the window counts from the server's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInput, StorageUnavailable

__all__ = ["Health", "HealthCounts", "ServerCounts", "read_server_counts"]

LATENCY_EDGES_MS = np.logspace(-3, 6, 9 * 50 + 1)


@dataclass(frozen=True)
class ServerCounts:
    """Cumulative request counters of one model read from a server's ``/metrics``."""

    requests: float
    errors: float
    server_errors: float
    client_errors: float = 0.0
    started: float | None = None  # the server process's start (epoch seconds)

    def to_dict(self) -> dict[str, float]:
        """The JSON form."""
        out = {"requests": self.requests, "errors": self.errors,
               "server_errors": self.server_errors, "client_errors": self.client_errors}
        if self.started is not None:
            out["started"] = self.started
        return out

    def since(self, previous: Mapping[str, float] | None) -> tuple[float, float, float]:
        """``(requests, server errors, client errors)`` since ``previous``, a reading of the
        same server process; since the process started when ``previous`` is another
        process's (a restart), missing, or not older than this one."""
        same = (previous is not None and previous.get("started") == self.started
                and self.started is not None
                and previous.get("requests", 0) <= self.requests)
        if not same or previous is None:
            return self.requests, self.server_errors, self.client_errors
        client_before = previous.get("client_errors",
                                     previous.get("errors", 0) - previous.get("server_errors", 0))
        return (self.requests - previous.get("requests", 0),
                self.server_errors - previous.get("server_errors", 0),
                self.client_errors - client_before)


def read_server_counts(url: str, model: str, *, timeout_s: float = 5.0) -> ServerCounts:
    """Read a model's request and error counters from a server's ``/metrics``.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8000``.
        model: the model name; references to it (``fraud@champion``) count too.

    Raises:
        StorageUnavailable: the server cannot be reached or answers with an error.
    """
    from prometheus_client.parser import text_string_to_metric_families

    try:
        response = httpx.get(url.rstrip("/") + "/metrics", timeout=timeout_s)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise StorageUnavailable(f"cannot read {url}/metrics for error counts: {exc}; check "
                                 "the server URL") from exc
    requests = errors = server_errors = client_errors = 0.0
    started: float | None = None
    for family in text_string_to_metric_families(response.text):
        if family.name == "modelyard_server_started_seconds" and family.samples:
            started = float(family.samples[0].value)
        if family.name != "modelyard_requests":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            served = sample.labels.get("model", "")
            if served != model and not served.startswith((f"{model}@", f"{model}/")):
                continue
            status = sample.labels.get("status", "200")
            requests += sample.value
            if status != "200":
                errors += sample.value
                if status.startswith("5"):
                    server_errors += sample.value
                elif status.startswith("4"):
                    client_errors += sample.value
    return ServerCounts(requests, errors, server_errors, client_errors, started)


@dataclass(frozen=True)
class Health:
    """Service health of one window.

    Attributes:
        requests: answered requests in the log.
        rows: predicted rows.
        duration_s: the window's length used for rates.
        requests_per_s: requests over the duration.
        latency_p50_ms: median request latency (from the log).
        latency_p95_ms: 95th percentile.
        latency_p99_ms: 99th percentile.
        latency_mean_ms: mean.
        error_rate: the service's failures: the 5xx share of requests, or ``None`` when
            unknown (no server URL).
        server_error_rate: the same 5xx share (kept for readers of older results).
        client_error_rate: the 4xx share (bad input, missing keys), or ``None``.
        errors_source: ``server`` (its ``/metrics``), ``log`` or ``none``.
        server_counts: the server counters read for this window, for the next one.
    """

    requests: int
    rows: int
    duration_s: float
    requests_per_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_mean_ms: float | None
    error_rate: float | None = None
    server_error_rate: float | None = None
    client_error_rate: float | None = None
    errors_source: str = "none"
    server_counts: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Health:
        """Read the JSON form back."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _quantile(hist: np.ndarray, q: float) -> float | None:
    total = hist.sum()
    if total == 0:
        return None
    k = int(np.searchsorted(np.cumsum(hist), q * total, side="left"))
    if k == 0:
        return float(LATENCY_EDGES_MS[0])
    if k >= LATENCY_EDGES_MS.size:
        return float(LATENCY_EDGES_MS[-1])
    return float(np.sqrt(LATENCY_EDGES_MS[k - 1] * LATENCY_EDGES_MS[k]))


@dataclass
class HealthCounts:
    """A window's health counters (mutable, additive); fed log batches."""

    requests: int = 0
    rows: int = 0
    log_errors: int = 0
    latency_sum_ms: float = 0.0
    latency: np.ndarray = field(
        default_factory=lambda: np.zeros(LATENCY_EDGES_MS.size + 1, dtype=np.int64))
    first_ts: float | None = None
    last_ts: float | None = None

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Count one batch of log rows."""
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        first = pc.equal(batch.column("row"), 0)
        latency = np.asarray(pc.filter(batch.column("latency_ms"), first).to_numpy(
            zero_copy_only=False), dtype=np.float64)
        latency = latency[~np.isnan(latency)]
        self.requests += int(latency.size)
        self.latency_sum_ms += float(latency.sum())
        self.latency += np.bincount(np.searchsorted(LATENCY_EDGES_MS, latency),
                                    minlength=LATENCY_EDGES_MS.size + 1)
        status = pc.filter(batch.column("status"), first)
        self.log_errors += int(pc.sum(pc.not_equal(status, 200)).as_py() or 0)
        ts = pc.min_max(batch.column("ts"))
        lo, hi = ts["min"].value, ts["max"].value
        if lo is not None and hi is not None:
            lo_s, hi_s = lo / 1e6, hi / 1e6
            self.first_ts = lo_s if self.first_ts is None else min(self.first_ts, lo_s)
            self.last_ts = hi_s if self.last_ts is None else max(self.last_ts, hi_s)

    def result(self, duration_s: float, *, server: ServerCounts | None = None,
               previous: Mapping[str, float] | None = None) -> Health:
        """The window's health; ``server`` and the ``previous`` reading give its errors."""
        if duration_s < 0:
            raise InvalidInput(f"a window cannot last {duration_s} s")
        error_rate = client_rate = None
        source = "none"
        if server is not None:
            requests, server_errors, client_errors = server.since(previous)
            if requests > 0:
                error_rate = max(server_errors, 0.0) / requests
                client_rate = max(client_errors, 0.0) / requests
            source = "server"
        elif self.log_errors:
            error_rate, source = self.log_errors / max(self.requests, 1), "log"
        return Health(
            requests=self.requests, rows=self.rows, duration_s=duration_s,
            requests_per_s=self.requests / duration_s if duration_s > 0 else 0.0,
            latency_p50_ms=_quantile(self.latency, 0.50),
            latency_p95_ms=_quantile(self.latency, 0.95),
            latency_p99_ms=_quantile(self.latency, 0.99),
            latency_mean_ms=self.latency_sum_ms / self.requests if self.requests else None,
            error_rate=error_rate, server_error_rate=error_rate,
            client_error_rate=client_rate, errors_source=source,
            server_counts=None if server is None else server.to_dict())
