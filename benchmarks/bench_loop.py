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
(the figure with the 60 s target), and every step's time from the audit trail. The whole
scenario runs ``--repeat`` times (3 by default), each in a fresh project; the report gives
the median with min and max. A run whose loop does not end with the new champion answering
(the gate rejected it, it was rolled back, a timeout, an error) is reported as failed with
the loop's own reason, never as a time, and counts as infinitely slow in the median.

Usage::

    taskset -c 0,1 python benchmarks/bench_loop.py run --workdir /tmp/w --out results/loop.json \\
        --repeat 5
    python benchmarks/bench_loop.py report results/loop.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _report import machine, replace_section, spread, summary, verdict

SECTION = "## Loop: planted drift to a new champion answering"
FINAL = ("promoted", "gate.rejected", "rolled_back", "retrain.failed")
TARGET_S = 60.0
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


def run_once(workdir: Path, window: int) -> dict[str, Any]:
    """One scenario in a fresh project: its times, or ``failed`` with the loop's reason."""
    import httpx

    import modelyard
    from modelyard.loop import GatePolicy, Policy, RetrainPolicy, RolloutPolicy, TriggerPolicy

    workdir.mkdir(parents=True, exist_ok=True)
    yard = modelyard.open(workdir)
    yard.datasets.ingest(transactions(20_000, seed=1), name="tx")
    spec = {"model": "fraud", "dataset": "tx@latest", "target": "fraud",
            "estimator": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                          "params": {"max_iter": 100, "random_state": 0}},
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
        failure = ""
        while True:
            events = [e for e in yard.loop.history("fraud") if e.at >= t0]
            final = [e for e in events if e.kind in FINAL]
            # the first cycle after the drift decides (a later one may start once the new
            # champion's own monitor window fills)
            if final and final[0].kind != "promoted":
                failure = f"{final[0].kind}: {final[0].message}"
                break
            if final:  # promoted: wait until the server swapped and answers with it
                new = yard.models.get("fraud@champion").version
                after = [a for a in client.answers if a[0] > final[0].at]
                if len(after) > 20 and all(a[1] == new for a in after[-10:]):
                    break
            if time.monotonic() > deadline:
                failure = "no outcome within 240 s; last events: " + "; ".join(
                    f"{e.kind}: {e.message}" for e in events[-3:])
                break
            time.sleep(0.1)
        answered = None
        if not failure:
            promoted_at = final[0].at
            new = yard.models.get("fraud@champion").version
            # the new champion answers from the first request after which every answer is its
            last_other = max(i for i, a in enumerate(client.answers) if a[1] != new)
            if last_other + 1 < len(client.answers):
                answered = client.answers[last_other + 1][0]
            else:
                failure = f"promoted at {promoted_at:.1f} but v{new} never answered"
        stop.set()
        client.stop.set()
        loop.join(30)
        client.join(10)
        events = [e for e in yard.loop.history("fraud") if e.at >= t0]
        ends = [i for i, e in enumerate(events) if e.kind in FINAL]
        events = events[:ends[0] + 1] if ends else events  # the first cycle only
        failed = sum(1 for a in client.answers if a[2] != 200)
    finally:
        server.terminate()
        server.wait(30)
        yard.close()
    at: dict[str, float] = {}
    for e in events:
        at.setdefault(e.kind, e.at)
    trigger = at.get("trigger")
    result: dict[str, Any] = {
        "status": "failed" if failure else "promoted", "reason": failure,
        "champion_fit_s": round(champion_fit_s, 2),
        "detection_s": None if trigger is None else round(trigger - t0, 2),
        "trigger_to_promoted_s": (round(at["promoted"] - trigger, 2)
                                  if not failure and trigger else None),
        "trigger_to_answering_s": (round(answered - trigger, 2)
                                   if answered is not None and trigger else None),
        "drift_to_answering_s": None if answered is None else round(answered - t0, 2),
        "steps_s": ({k: round(v - trigger, 2) for k, v in at.items() if v >= trigger}
                    if trigger else {}),
        "requests": len(client.answers), "failed_requests": failed,
        "events": [{"kind": e.kind, "message": e.message} for e in events],
    }
    return result


def run(workdir: Path, out: Path, window: int, repeat: int) -> dict[str, Any]:
    """The scenario ``repeat`` times, each in a fresh project; every run's result kept."""
    doc: dict[str, Any] = {
        "machine": machine(), "window_predictions": window, "repeat": repeat,
        "rows": {"champion_train": 20_000, "new_version": 30_000},
        "shadow_s": 5, "canary_s": 10, "canary_share": 0.2, "runs": []}
    for i in range(1, repeat + 1):
        print(f"== loop run {i}/{repeat}", file=sys.stderr, flush=True)
        try:
            result = run_once(workdir / f"run{i}", window)
        except Exception as exc:  # a run that breaks is a failed run, reported as such
            result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        print(json.dumps({k: v for k, v in result.items() if k != "events"}), file=sys.stderr,
              flush=True)
        doc["runs"].append(result)
    doc["machine_after"] = machine()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc


def report(path: Path, markdown: Path | None) -> str:
    """The section for docs/BENCHMARKS.md, every figure and verdict from the run's JSON."""
    r = json.loads(path.read_text(encoding="utf-8"))
    runs = r["runs"]
    m = r["machine"]
    ok = [x for x in runs if x["status"] == "promoted" and x.get("trigger_to_answering_s")
          is not None]

    def figure(key: str) -> dict[str, Any]:
        return summary(x.get(key) if x in ok else None for x in runs)

    answering = figure("trigger_to_answering_s")
    lines = [
        SECTION, "",
        f"- run: {m['date']}, {len(runs)} run(s) of the whole scenario in one invocation, each "
        "in a fresh project (`bash benchmarks/run.sh loop`); each figure is the median of the "
        "runs with (min-max); a run that did not end with the new champion answering counts "
        "as failed (infinitely slow in the median) and is listed below with the loop's reason",
        f"- machine: {m['cpus']} CPU cores, {m['platform']}, Python {m['python']}; load at the "
        f"start: `{m['uptime']}`; at the end: `{r['machine_after']['uptime']}`",
        f"- workload: fraud transactions ({r['rows']['champion_train']:,} for the champion, a "
        f"new version of {r['rows']['new_version']:,} with the drifted period), a real "
        f"`modelyard serve`; the loop runs the monitor on the last "
        f"{r['window_predictions']:,} predictions each pass; rollout: shadow {r['shadow_s']} s, "
        f"canary {r['canary_share']:.0%} for {r['canary_s']} s (`benchmarks/bench_loop.py`)", "",
        f"Outcome: {len(ok)} of {len(runs)} runs promoted the challenger and the new champion "
        "answered" + ("." if len(ok) == len(runs) else
                      f"; {len(runs) - len(ok)} failed (see below)."), "",
        "| measure | seconds |", "| --- | ---: |",
        "| detection (planted drift to trigger; the window you configure, excluded) | "
        f"{spread(summary(x.get('detection_s') for x in runs))} |",
        f"| trigger to promotion | {spread(figure('trigger_to_promoted_s'))} |",
        f"| **trigger to the new champion answering requests** (target < {TARGET_S:g}) | "
        f"**{spread(answering)}** |",
        "| planted drift to the new champion answering, all included | "
        f"{spread(figure('drift_to_answering_s'))} |", "",
        f"Target: the new champion answering within {TARGET_S:g} s of the trigger (median of "
        f"the runs): {spread(answering, ' s')}, "
        + verdict(answering["median"], TARGET_S, higher_is_better=False) + ".", ""]
    for i, x in enumerate(runs, 1):
        if x in ok:
            steps = ", ".join(f"{k} +{v:.1f} s" for k, v in x["steps_s"].items())
            lines.append(f"- run {i}: promoted; steps after the trigger: {steps}; "
                         f"{x['failed_requests']} of {x['requests']:,} client requests failed")
        else:
            lines.append(f"- run {i}: **failed**: {x['reason']}"
                         + (f"; {x['failed_requests']} of {x['requests']:,} client requests "
                            "failed" if "requests" in x else ""))
    total_failed = sum(int(x.get("failed_requests", 0)) for x in runs)
    total = sum(int(x.get("requests", 0)) for x in runs)
    lines += ["", f"Client requests over all runs: {total:,}, of which {total_failed} failed. "
              f"The rollout windows (shadow + canary = {r['shadow_s'] + r['canary_s']} s) are "
              "configured and included in the times.", ""]
    text = "\n".join(lines)
    if markdown is not None:
        replace_section(markdown, SECTION, text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--window", type=int, default=2000)
    r.add_argument("--repeat", type=int, default=3, help="runs of the whole scenario")
    p = sub.add_parser("report")
    p.add_argument("path", type=Path)
    p.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        doc = run(args.workdir, args.out, args.window, args.repeat)
        print(json.dumps([{k: v for k, v in x.items() if k != "events"} for x in doc["runs"]],
                         indent=2))
    else:
        print(report(args.path, args.markdown))


if __name__ == "__main__":
    main()
