"""A served-model scenario for monitoring tests: a registered classifier trained on a
versioned dataset, a real Parquet prediction log written with ``PredictionLog``, and real
feedback rows in the store."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import modelyard
from modelyard.monitor import LogSchema, PredictionLog

HOUR = 3600.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
FEATURES = ["x0", "x1", "x2", "x3", "colour"]


def make_frame(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    frame["x2"] += shift
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    logit = 1.5 * frame["x0"] - frame["x1"] + (frame["colour"] == "red") * 0.5
    frame["y"] = (logit + rng.normal(scale=0.5, size=n) > 0).astype(np.int64)
    return frame


@dataclass
class Scenario:
    """A project with model 'fraud' v1 (champion) and helpers to log and label."""

    yard: modelyard.Yard
    root: Path
    model: Any
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(42))

    def log(self, start: float, n_requests: int, *, rows: int = 5, shift: float = 0.0,
            latency_ms: float = 5.0, flip: bool = False) -> list[tuple[str, int, int]]:
        """Log ``n_requests`` requests spread over the hour from ``start``; returns the
        true ``(request_id, row, label)`` of every row (labels flipped if ``flip``)."""
        schema = LogSchema("fraud", 1, (("x0", "float"), ("x1", "float"), ("x2", "float"),
                                        ("x3", "float"), ("colour", "string")), "integer", (0, 1))
        log = PredictionLog(self.root)
        truth: list[tuple[str, int, int]] = []
        frame = make_frame(self.rng, n_requests * rows, shift=shift)
        proba = self.model.predict_proba(frame[FEATURES])
        pred = proba.argmax(axis=1)
        for r in range(n_requests):
            part = slice(r * rows, (r + 1) * rows)
            request_id = uuid.uuid4().hex
            records = frame[FEATURES].iloc[part].to_dict(orient="records")
            log.append(schema, request_id, records, pred[part], proba[part],
                       alias="champion", latency_ms=latency_ms,
                       ts=start + (r + 0.5) * HOUR / n_requests)
            labels = frame["y"].to_numpy()[part]
            truth += [(request_id, i, int(1 - y if flip else y)) for i, y in enumerate(labels)]
        log.close()
        return truth

    def label(self, truth: list[tuple[str, int, int]]) -> int:
        return self.yard.store.feedback.add("fraud", truth)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
