"""Loop benchmark: on a fraud workload, the time from planted drift to the new champion
answering requests, excluding the detection window.

The workload: 20,000 synthetic card transactions (8 numeric features, about 3% fraud),
champion a HistGradientBoostingClassifier trained by ``yard.train``, served by a real
``modelyard serve`` process, a client sending 10-row requests. At t0 the drift is planted:
the traffic comes from a shifted distribution with a new fraud pattern, and the labelled
transactions of that period are ingested as a new dataset version. The loop (in this
process) runs the monitor on a ``last:N`` window each pass; when the drift alert opens it
retrains on the newest data, gates the challenger, shadows it, canaries it and promotes it.

Reported: detection (t0 to the trigger: filling the window you configure, excluded from the
target), trigger to promotion, trigger to the first request answered by the new champion
(the figure with the 60 s target), and every step's time from the audit trail.

Usage::

    taskset -c 0,1 python benchmarks/bench_loop.py run --workdir /tmp/w --out results/loop.json
    python benchmarks/bench_loop.py report results/loop.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SECTION = "## Loop: planted drift to a new champion answering"
FEATURES = ["amount", "hour", "distance_km", "merchant_risk", "tx_24h", "account_age_d",
            "foreign", "device_age_d"]


def transactions(n: int, *, seed: int, drifted: bool = False) -> pd.DataFrame:
    """Synthetic card transactions; ``drifted`` shifts distances and changes the pattern."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({
        "amount": rng.lognormal(3.5, 1.0, n), "hour": rng.integers(0, 24, n).astype(float),
        "distance_km": rng.exponential(15.0 if not drifted else 60.0, n),
        "merchant_risk": rng.beta(2, 8, n), "tx_24h": rng.poisson(3 if not drifted else 6, n)
        .astype(float), "account_age_d": rng.exponential(700, n),
        "foreign": (rng.random(n) < (0.1 if not drifted else 0.3)).astype(float),
        "device_age_d": rng.exponential(200, n)})
    if not drifted:
        logit = -5.2 + 0.9 * np.log1p(f["amount"]) * f["merchant_risk"] * 3 + \
            0.03 * f["distance_km"] - 0.001 * f["account_age_d"]
    else:
        logit = -4.5 + 0.45 * f["tx_24h"] + 1.8 * f["foreign"] - 0.004 * f["device_age_d"]
    f["fraud"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return f


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client(threading.Thread):
    """Posts 10-row requests; remembers (time, version, status) of each answer."""

    def __init__(self, url: str, frame: pd.DataFrame) -> None:
        super().__init__(daemon=True)
        self.url, self.frame = url, frame
        self.answers: list[tuple[float, int, int]] = []
        self.stop = threading.Event()

    def set_frame(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=10) as http:
            i = 0
            while not self.stop.is_set():
                rows = self.frame.iloc[(i * 10) % (len(self.frame) - 10):][:10]
                r = http.post("/v1/models/fraud/predict",
                              json=rows[FEATURES].to_dict(orient="records"))
                version = int(r.json()["version"]) if r.status_code == 200 else -1
                self.answers.append((time.time(), version, r.status_code))
                i += 1
                time.sleep(0.005)


def run(workdir: Path, out: Path, window: int) -> dict[str, Any]:
    import httpx

    import modelyard
    from modelyard.loop import GatePolicy, Policy, RetrainPolicy, RolloutPolicy, TriggerPolicy

    workdir.mkdir(parents=True, exist_ok=True)
    yard = modelyard.open(workdir)
    yard.datasets.ingest(transactions(20_000, seed=1), name="tx")
    spec = {"model": "fraud", "dataset": "tx@latest", "target": "fraud",
            "estimator": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                          "params": {"max_iter": 100}},
            "evaluation": {"test_size": 0.25, "primary_metric": "roc_auc"}}
    started = time.perf_counter()
    yard.train(spec, aliases=("champion",))
    champion_fit_s = time.perf_counter() - started
    port = _port()
    url = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")},
           "MODELYARD_SWAP_POLL_INTERVAL_S": "0.5", "MODELYARD_LOG_ROTATE_S": "1",
           "MODELYARD_LOG_FLUSH_INTERVAL_S": "0.2"}
    server = subprocess.Popen([sys.executable, "-m", "modelyard", "serve", "fraud@champion",
                               "--host", "127.0.0.1", "--port", str(port), "--project",
                               str(workdir), "--log-level", "warning"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not ready"
            time.sleep(0.1)
        policy = Policy("fraud", triggers=TriggerPolicy(drift=True,
                                                        monitor_window=f"last:{window}"),
                        retrain=RetrainPolicy(), gate=GatePolicy(bootstrap_samples=300),
                        rollout=RolloutPolicy(server_url=url, shadow_s=5, canary_share=0.2,
                                              canary_s=10, min_requests=20, poll_s=0.25,
                                              max_latency_p99_ms=500))
        yard.loop.set_policy(policy)
        client = Client(url, transactions(5_000, seed=2))
        client.start()
        stop = threading.Event()
        loop = threading.Thread(target=yard.loop.run_forever, kwargs={
            "interval_s": 0.5, "stop": stop}, daemon=True)
        loop.start()
        time.sleep(8)  # steady state: the monitor sees no drift
        t0 = time.time()
        yard.datasets.ingest(pd.concat([transactions(15_000, seed=3),
                                        transactions(15_000, seed=4, drifted=True)],
                                       ignore_index=True), name="tx")
        client.set_frame(transactions(5_000, seed=5, drifted=True))
        deadline = time.monotonic() + 240
        while True:
            promoted = [e.at for e in yard.loop.history("fraud") if e.kind == "promoted"]
            if promoted and sum(1 for a in client.answers if a[0] > promoted[0]) > 50:
                break
            assert time.monotonic() < deadline, "no new champion in time: " + "; ".join(
                f"{e.kind}: {e.message}" for e in yard.loop.history("fraud"))
            time.sleep(0.1)
        # the new champion answers from the first request after which every answer is its
        last_other = max(i for i, a in enumerate(client.answers) if a[1] != 2)
        answered = client.answers[last_other + 1][0]
        stop.set()
        client.stop.set()
        loop.join(30)
        client.join(10)
        events = yard.loop.history("fraud")
        at = {e.kind: e.at for e in events}
        failed = sum(1 for a in client.answers if a[2] != 200)
    finally:
        server.terminate()
        server.wait(30)
        yard.close()
    trigger = at["trigger"]
    result = {
        "cpus": os.sched_getaffinity(0).__len__(), "platform": platform.platform(),
        "python": platform.python_version(), "window_predictions": window,
        "rows": {"champion_train": 20_000, "new_version": 30_000},
        "champion_fit_s": round(champion_fit_s, 2),
        "detection_s": round(trigger - t0, 2),
        "trigger_to_promoted_s": round(at["promoted"] - trigger, 2),
        "trigger_to_answering_s": round(answered - trigger, 2),
        "drift_to_answering_s": round(answered - t0, 2),
        "steps_s": {k: round(v - trigger, 2) for k, v in at.items() if v >= trigger},
        "shadow_s": 5, "canary_s": 10, "requests": len(client.answers),
        "failed_requests": failed,
        "events": [{"kind": e.kind, "message": e.message} for e in events],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def report(path: Path, markdown: Path | None) -> str:
    r = json.loads(path.read_text(encoding="utf-8"))
    steps = ", ".join(f"{k} +{v:.1f} s" for k, v in r["steps_s"].items())
    text = "\n".join([
        SECTION, "",
        f"Fraud workload ({r['rows']['champion_train']:,} transactions for the champion, a "
        f"new version of {r['rows']['new_version']:,} with the drifted period), a real "
        f"`modelyard serve`, {r['cpus']} CPU cores, Python {r['python']}. The loop runs the "
        f"monitor on the last {r['window_predictions']:,} predictions each pass; rollout: "
        f"shadow {r['shadow_s']} s, canary 20% for {r['canary_s']} s "
        "(`benchmarks/bench_loop.py`).", "",
        "| measure | seconds |", "| --- | ---: |",
        f"| detection (planted drift to trigger; the window you configure, excluded) | "
        f"{r['detection_s']:.1f} |",
        f"| trigger to promotion | {r['trigger_to_promoted_s']:.1f} |",
        f"| **trigger to the new champion answering requests** (target < 60) | "
        f"**{r['trigger_to_answering_s']:.1f}** |",
        f"| planted drift to the new champion answering, all included | "
        f"{r['drift_to_answering_s']:.1f} |", "",
        f"Steps after the trigger: {steps}. Of {r['requests']:,} client requests during the "
        f"run, {r['failed_requests']} failed. The rollout windows (shadow + canary = "
        f"{r['shadow_s'] + r['canary_s']} s) are configured and included.", ""])
    if markdown is not None:
        doc = markdown.read_text(encoding="utf-8") if markdown.exists() else "# Benchmarks\n"
        if SECTION in doc:
            head, _, rest = doc.partition(SECTION)
            tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
            doc = head + text + tail
        else:
            doc = doc.rstrip("\n") + "\n\n" + text
        markdown.write_text(doc, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--window", type=int, default=2000)
    p = sub.add_parser("report")
    p.add_argument("path", type=Path)
    p.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        print(json.dumps({k: v for k, v in run(args.workdir, args.out, args.window).items()
                          if k != "events"}, indent=2))
    else:
        print(report(args.path, args.markdown))


if __name__ == "__main__":
    main()
