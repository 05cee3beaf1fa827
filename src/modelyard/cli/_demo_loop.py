"""The second half of ``modelyard demo``: serve the champion, stream traffic, plant drift,
and watch the loop alert, retrain, gate, canary and promote, narrated from its audit trail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._render import console, table

if TYPE_CHECKING:
    import pandas as pd

    from .._yard import Yard

# Features a new scanner reports larger: the drift the demo plants.
_SHIFTED = ("mean_radius", "worst_radius", "mean_area", "worst_area", "mean_perimeter",
            "worst_perimeter", "mean_texture", "worst_texture")


def _step(n: int, text: str) -> None:
    console().rule(f"[bold cyan]{n}. {text}", align="left")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shift(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in _SHIFTED:
        out[column] = out[column] * 1.8
    return out


class _Traffic(threading.Thread):
    """A client posting 5-row requests; counts answers by version and failures."""

    def __init__(self, url: str, rows: list[dict[Any, Any]]) -> None:
        super().__init__(daemon=True)
        self.url, self.rows = url, rows
        self.by_version: dict[int, int] = {}
        self.failed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=10) as http:
            i = 0
            while not self.stop.is_set():
                start = (i * 5) % (len(self.rows) - 5)
                try:
                    answer = http.post("/v1/models/cancer/predict",
                                       json=self.rows[start:start + 5])
                except httpx.HTTPError:
                    self.failed += 1
                    continue
                if answer.status_code == 200:
                    version = int(answer.json()["version"])
                    self.by_version[version] = self.by_version.get(version, 0) + 1
                else:
                    self.failed += 1
                i += 1
                time.sleep(0.01)


def close_the_loop(yard: Yard, folder: Path, frame: pd.DataFrame, *, first_step: int) -> None:
    """Serve, stream, plant drift and let the loop promote a retrained champion."""
    import httpx

    from ..loop import GatePolicy, Policy, RetrainPolicy, RolloutPolicy, TriggerPolicy

    n = first_step
    _step(n, "Serve cancer@champion and stream traffic")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")},
           "MODELYARD_SWAP_POLL_INTERVAL_S": "0.5", "MODELYARD_LOG_ROTATE_S": "1",
           "MODELYARD_LOG_FLUSH_INTERVAL_S": "0.2"}
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "cancer@champion", "--host", "127.0.0.1",
         "--port", str(port), "--project", str(folder), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 60
        with console().status("starting the server ..."):
            while True:
                try:
                    if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    console().print("[yellow]the server did not start; skipping the loop")
                    return
                time.sleep(0.2)
        features = frame.drop(columns=["malignant"])
        traffic = _Traffic(url, features.sample(frac=1.0, random_state=1)
                           .to_dict(orient="records"))
        traffic.start()
        champion = yard.models.get("cancer@champion").version
        console().print(f"serving v{champion} at {url}; a client sends 5-row requests")

        _step(n + 1, "Start the loop: drift alerts retrain, the gate decides, canary, promote")
        yard.loop.set_policy(Policy(
            "cancer", triggers=TriggerPolicy(drift=True, monitor_window="last:600"),
            retrain=RetrainPolicy(tune_trials=0),
            gate=GatePolicy(metric="accuracy", bootstrap_samples=200),
            rollout=RolloutPolicy(server_url=url, shadow_s=3, canary_share=0.3, canary_s=6,
                                  min_requests=10, poll_s=0.25, max_latency_p99_ms=500)))
        runner = threading.Thread(target=yard.loop.run_forever,
                                  kwargs={"interval_s": 0.5, "stop": stop}, daemon=True)
        runner.start()
        time.sleep(4)
        console().print("the monitor sees the training distribution: no alert")

        _step(n + 2, "Plant drift: a new scanner reports larger cells; new labels arrive")
        shifted = _shift(frame)
        traffic.rows = shifted.drop(columns=["malignant"]).sample(
            frac=1.0, random_state=2).to_dict(orient="records")
        new = yard.datasets.ingest(shifted, name="cancer",
                                   description="readings from the new scanner, labelled")
        console().print(f"traffic now comes from the new scanner; its labelled readings are "
                        f"{new.ref}")
        planted = time.time()
        seen = 0
        deadline = time.monotonic() + 180
        with console().status("the loop at work ...") as status:
            while time.monotonic() < deadline:
                events = yard.loop.history("cancer")
                for event in events[seen:]:
                    console().print(f"  [+{event.at - planted:5.1f}s] [bold]{event.kind}[/]: "
                                    f"{event.message}")
                    status.update(f"the loop at work ... ({event.kind})")
                seen = len(events)
                if events and events[-1].kind in ("promoted", "rolled_back", "gate.rejected",
                                                  "retrain.failed"):
                    break
                time.sleep(0.3)
        time.sleep(1.5)  # the server's next registry poll swaps the champion in
        stop.set()
        traffic.stop.set()
        traffic.join(10)
        runner.join(30)
        _step(n + 3, "Who answered")
        table("answers during the demo", ["version", "requests"],
              sorted(traffic.by_version.items()))
        console().print(f"failed requests: {traffic.failed}; cancer@champion is now "
                        f"v{yard.models.get('cancer@champion').version}")
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
