"""The second half of every recipe: serve the champion, stream traffic, plant drift, and let
the loop alert, retrain, gate, shadow, canary and promote, narrated from its audit trail.

``modelyard demo`` (breast cancer) and every recipe end with :func:`showcase_loop`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._narrate import step_heading

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from ..yard import Yard

__all__ = ["ShowcaseResult", "showcase_loop"]

_FINAL = ("promoted", "rolled_back", "gate.rejected", "retrain.failed")


@dataclass(frozen=True)
class ShowcaseResult:
    """What happened while the loop answered the planted drift.

    Attributes:
        outcome: the loop's last event kind (``promoted``, ``gate.rejected`` ...), or
            ``"timeout"`` / ``"no-server"``.
        champion_version: the version ``<model>@champion`` points at afterwards.
        answers: requests answered, by model version.
        failed: requests that failed (transport errors or non-200 answers).
        latency_ms: client-side request latency percentiles (``p50``, ``p99``) for
            ``batch_rows``-row requests over real HTTP.
        seconds_to_outcome: from planting the drift to the outcome.
        events: ``(seconds after planting, kind, message)`` of every loop event.
        batch_rows: rows per request of the client whose latency is ``latency_ms``.
    """

    outcome: str
    champion_version: int
    answers: dict[int, int] = field(default_factory=dict)
    failed: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    seconds_to_outcome: float = float("nan")
    events: tuple[tuple[float, str, str], ...] = ()
    batch_rows: int = 0

    @property
    def reason(self) -> str:
        """The loop's own words for the outcome: the message of its last event."""
        return self.events[-1][2] if self.events else ""

    def to_notes(self) -> dict[str, Any]:
        """Plain data for a recipe's notes: the outcome with the loop's reason, who
        answered, failures, and the HTTP latency measured while the loop ran."""
        return {"outcome": self.outcome, "reason": self.reason, "answers": self.answers,
                "failed": self.failed, "seconds_to_outcome": self.seconds_to_outcome,
                "http_latency_ms": dict(self.latency_ms), "http_rows_per_request":
                    self.batch_rows,
                "events": [list(e) for e in self.events]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Traffic(threading.Thread):
    """A client posting ``batch``-row requests; counts answers by version, failures, latency."""

    def __init__(self, url: str, model: str, rows: list[dict[str, Any]], batch: int) -> None:
        super().__init__(daemon=True)
        self.url, self.model, self.rows, self.batch = url, model, rows, batch
        self.by_version: dict[int, int] = {}
        self.failed = 0
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=10) as http:
            i = 0
            while not self.stop.is_set():
                rows = self.rows
                start = (i * self.batch) % max(1, len(rows) - self.batch)
                began = time.perf_counter()
                try:
                    answer = http.post(f"/v1/models/{self.model}/predict",
                                       json=rows[start:start + self.batch])
                except httpx.HTTPError:
                    self.failed += 1
                    time.sleep(0.05)  # a server that is gone: count, do not spin
                    continue
                if answer.status_code == 200:
                    self.latencies.append((time.perf_counter() - began) * 1000)
                    version = int(answer.json()["version"])
                    self.by_version[version] = self.by_version.get(version, 0) + 1
                else:
                    self.failed += 1
                i += 1
                time.sleep(0.01)


class _AlertNews:
    """Alert incidents as narration: new openings and resolutions since the last look,
    grouped by rule (``feature_psi on mean_radius 0.61, mean_texture 0.74``)."""

    def __init__(self, yard: Yard, model: str) -> None:
        self._yard, self._model = yard, model
        self._status: dict[int, str] = {a.id: a.status for a in yard.monitor.alerts(model)}

    def lines(self) -> list[str]:
        """One line for the alerts opened and one for those resolved since the last call."""
        opened: dict[str, list[str]] = {}
        resolved: dict[str, list[str]] = {}
        for alert in self._yard.monitor.alerts(self._model):
            before = self._status.get(alert.id)
            self._status[alert.id] = alert.status
            if before == alert.status:
                continue
            into = resolved if alert.status == "resolved" else opened
            measure = re.split(r"[<>]", alert.rule)[0]
            shown = alert.subject if alert.value is None else f"{alert.subject} {alert.value:.2g}"
            into.setdefault(measure, []).append(shown)
        out = []
        for what, found in (("opened", opened), ("resolved", resolved)):
            if found:
                n = sum(len(subjects) for subjects in found.values())
                out.append(f"{n} alert{'s' if n > 1 else ''} {what}: " + "; ".join(
                    f"{measure} on {_first(subjects)}"
                    for measure, subjects in sorted(found.items())))
        return out


def _first(items: list[str], shown: int = 3) -> str:
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" (+{more} more)" if more > 0 else "")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    # Through JSON, so NumPy scalars and NaN become what a client would send.
    out: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return out


def showcase_loop(
    yard: Yard,
    *,
    model: str,
    dataset: str,
    target: str,
    traffic: pd.DataFrame,
    drifted: pd.DataFrame,
    drifted_traffic: pd.DataFrame | None = None,
    drift_story: str = "the inputs shift",
    trigger: str = "drift",
    gate_metric: str = "accuracy",
    console: Console | None = None,
    first_step: int = 1,
    batch_rows: int = 5,
    timeout_s: float = 180.0,
    monitor_window: str = "last:600",
) -> ShowcaseResult:
    """Serve ``<model>@champion``, stream traffic, plant drift, and let the loop answer.

    Starts ``modelyard serve`` on 127.0.0.1 (a free port) for the yard's project folder, sends
    ``traffic`` rows to it in ``batch_rows``-row requests, sets a loop policy for ``model``
    (the trigger, a champion/challenger gate on ``gate_metric``, shadow then canary), then
    plants the drift: the traffic switches to the inputs of ``drifted`` and ``drifted``
    itself (inputs and their labels in column ``target``) is ingested as the new version of
    ``dataset``, the data the loop retrains on. It prints the loop's events as they happen
    and returns once the loop promoted, rolled back or rejected a challenger (or after
    ``timeout_s``). The server is stopped before it returns.

    Args:
        yard: the yard holding the champion; its project folder is served.
        model: the registered model; ``<model>@champion`` must exist.
        dataset: the dataset the champion was trained on.
        target: the label column of ``drifted``.
        traffic: inputs (the model's feature columns only) to send before the drift.
        drifted: drifted inputs plus ``target``: the new data version and the later traffic.
        drifted_traffic: the later traffic when it is not ``drifted``'s inputs (a
            recommender's new data holds interactions; its requests hold user ids).
        drift_story: one line saying what changed in the world, for the narration.
        trigger: ``"drift"`` (the monitor's drift alert retrains) or ``"new_data"`` (the new
            data version does).
        gate_metric: the metric the gate compares champion and challenger on.
        console: where to narrate (a rich console); silent when ``None``.
        first_step: the number of the first narrated step.
        batch_rows: rows per request.
        timeout_s: how long to wait for the loop's outcome after planting.
        monitor_window: the predictions the loop's monitor compares with the reference
            each pass (``last:N``); more of them make the drift statistics less noisy.

    Returns:
        The outcome, who answered, failures, latency and the loop's events.

    Example:
        >>> showcase_loop(yard, model="cancer", dataset="cancer", target="malignant",
        ...               traffic=X, drifted=shifted)  # doctest: +SKIP
    """
    import httpx

    from ..loop import GatePolicy, Policy, RetrainPolicy, RolloutPolicy, TriggerPolicy

    def say(text: str) -> None:
        if console is not None:
            console.print(text)

    def step(n: int, text: str) -> None:
        if console is not None:
            step_heading(console, n, text)

    folder = yard.settings.project_dir
    n = first_step
    step(n, f"Serve {model}@champion and stream traffic")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")},
           "MODELYARD_SWAP_POLL_INTERVAL_S": "0.5", "MODELYARD_LOG_ROTATE_S": "1",
           "MODELYARD_LOG_FLUSH_INTERVAL_S": "0.2"}
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", f"{model}@champion", "--host",
         "127.0.0.1", "--port", str(port), "--project", str(folder), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    runner: threading.Thread | None = None
    client: _Traffic | None = None
    # The narration reports alerts and loop errors (from the store); keep their log
    # warnings from printing beside it while the showcase runs.
    quiet = logging.NullHandler()
    loggers = [logging.getLogger(n) for n in ("modelyard.monitor", "modelyard.loop")]
    for logger in loggers:
        logger.addHandler(quiet)
    news = _AlertNews(yard, model)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                say("[yellow]the server did not start; skipping the loop")
                return ShowcaseResult("no-server", yard.models.get(f"{model}@champion").version)
            time.sleep(0.2)
        client = _Traffic(url, model, _records(traffic.sample(frac=1.0, random_state=1)),
                          batch_rows)
        client.start()
        champion = yard.models.get(f"{model}@champion").version
        say(f"serving v{champion} at {url}; a client sends {batch_rows}-row requests")

        step(n + 1, "Start the loop: alerts retrain, the gate decides, canary, promote")
        yard.loop.set_policy(Policy(
            model,
            triggers=TriggerPolicy(drift=trigger == "drift", new_data=trigger == "new_data",
                                   monitor_window=monitor_window),
            retrain=RetrainPolicy(tune_trials=0),
            # the same latency budget as the rollout's: one-row predictions in-process on a
            # busy 2-core machine reach 100 ms (the default) while the better model waits
            gate=GatePolicy(metric=gate_metric, bootstrap_samples=200, latency_budget_ms=500),
            rollout=RolloutPolicy(server_url=url, shadow_s=3, canary_share=0.3, canary_s=6,
                                  min_requests=10, poll_s=0.25, max_latency_p99_ms=500)))
        runner = threading.Thread(target=yard.loop.run_forever,
                                  kwargs={"interval_s": 0.5, "stop": stop}, daemon=True)
        runner.start()
        time.sleep(4)
        early = yard.loop.history(model)
        for line in news.lines():
            say(f"  [yellow]{line}[/]")
        say("the monitor sees the training distribution: no alert" if not early else
            f"[yellow]before any drift the loop already reacted ({early[0].kind}: "
            f"{early[0].message}); a small sample makes noisy statistics[/]")

        step(n + 2, f"Plant drift: {drift_story}; new labels arrive")
        later = drifted.drop(columns=[target]) if drifted_traffic is None else drifted_traffic
        switched = time.time()
        client.rows = _records(later.sample(frac=1.0, random_state=2))
        new = yard.datasets.ingest(drifted, name=dataset,
                                   description=f"after the drift: {drift_story}, labelled")
        say(f"traffic now comes from the drifted world; its labelled rows are {new.ref}")
        planted = time.time()
        seen: list[tuple[float, str, str]] = []
        outcome = "timeout"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lines = [(time.time() - planted, f"[yellow]{line}[/]") for line in news.lines()]
            events = yard.loop.history(model)
            for event in events[len(seen):]:
                seen.append((event.at - planted, event.kind, event.message))
                lines.append((event.at - planted, f"[bold]{event.kind}[/]: {event.message}"))
            for at, line in sorted(lines, key=lambda item: item[0]):
                say(f"  [+{at:5.1f}s] {line}")
            # The answer to the planted drift: the first cycle triggered after it. A cycle a
            # noisy small sample started before it is narrated, not taken for the answer.
            after = [e for e in events if e.at >= switched]
            started = next((i for i, e in enumerate(after) if e.kind == "trigger"), None)
            ended = None if started is None else next(
                (e for e in after[started:] if e.kind in _FINAL), None)
            if ended is not None:
                outcome = ended.kind
                break
            time.sleep(0.3)
        took = time.time() - planted
        time.sleep(1.5)  # the server's next registry poll swaps the champion in
        for line in news.lines():
            say(f"  [+{time.time() - planted:5.1f}s] [yellow]{line}[/]")
        stop.set()
        client.stop.set()
        client.join(10)
        runner.join(30)
        step(n + 3, "Who answered")
        now = yard.models.get(f"{model}@champion").version
        say("answers by version: " + ", ".join(
            f"v{v}: {c}" for v, c in sorted(client.by_version.items())))
        say(f"failed requests: {client.failed}; {model}@champion is now v{now}")
        return ShowcaseResult(
            outcome=outcome, champion_version=now, answers=dict(client.by_version),
            failed=client.failed, latency_ms=_percentiles(client.latencies),
            seconds_to_outcome=took if outcome != "timeout" else float("nan"),
            events=tuple(seen), batch_rows=batch_rows)
    finally:
        for logger in loggers:
            logger.removeHandler(quiet)
        stop.set()
        if client is not None:
            client.stop.set()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if runner is not None:
            runner.join(30)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    import numpy as np

    arr = np.asarray(values)
    return {"p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99))}
