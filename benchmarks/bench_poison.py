"""Poison-row benchmark: does one client sending rows the model refuses slow everyone else?

A real ``modelyard serve`` on 127.0.0.1 serves a random forest (scikit-learn's trees take
float32, so a row of ``1e308`` passes the signature but makes ``predict`` raise). Healthy
clients post valid single rows; poison clients post rows of ``1e308`` (each answered 422).
Each repetition measures the healthy clients' throughput alone (clean), then beside the
poison clients (poisoned), on the same warm server; the figure is poisoned / clean.
Bounded: ``--seconds`` per phase, ``--repeat`` repetitions.

Usage::

    .venv/bin/python benchmarks/bench_poison.py --repeat 3 --seconds 8 --out poison.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def _project(folder: Path) -> dict[str, float]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    import modelyard

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [str(c).replace(" ", "_") for c in X.columns]
    with modelyard.open(folder) as yard:
        yard.models.register("cancer", RandomForestClassifier(
            n_estimators=30, random_state=0).fit(X, y), input_example=X.head(5))
    return {k: float(v) for k, v in X.iloc[0].items()}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _clients(url: str, body: bytes, n: int, stop_at: float, expect: int,
                   rate: float | None = None) -> dict[str, Any]:
    """``n`` keep-alive connections posting ``body`` until ``stop_at``, together at most
    ``rate`` requests per second (unpaced when ``None``)."""
    good = bad = 0
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    start = time.monotonic()
    sent = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as http:
        async def one() -> None:
            nonlocal good, bad, sent
            while (now := time.monotonic()) < stop_at:
                if rate is not None:
                    due = start + sent / rate
                    sent += 1
                    if due > now:
                        await asyncio.sleep(due - now)
                t0 = time.perf_counter()
                r = await http.post("/v1/models/cancer/predict", content=body,
                                    headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - t0)
                if r.status_code == expect:
                    good += 1
                else:
                    bad += 1
        await asyncio.gather(*(one() for _ in range(n)))
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else None
    return {"rps": good / (stop_at - start), "unexpected": bad, "p99_ms": p99}


def _poison_process(url: str, body: bytes, n: int, stop_at_wall: float,
                   out: multiprocessing.Queue[dict[str, Any]]) -> None:
    """The poison clients, in a process of their own: their client-side work must not slow
    the healthy clients' event loop, only the server."""
    stop_at = time.monotonic() + (stop_at_wall - time.time())
    out.put(asyncio.run(_clients(url, body, n, stop_at, 422)))


def _phase(url: str, healthy: bytes, poison: bytes, seconds: float, healthy_n: int,
           poison_n: int, rate: float | None) -> dict[str, Any]:
    proc = None
    queue: multiprocessing.Queue[dict[str, Any]] = multiprocessing.Queue()
    start_wall = time.time() + 0.5  # both sides start together, after the process is up
    if poison_n:
        proc = multiprocessing.Process(target=_poison_process, args=(
            url, poison, poison_n, start_wall + seconds, queue))
        proc.start()
    time.sleep(max(start_wall - time.time(), 0))
    out = {"healthy": asyncio.run(_clients(url, healthy, healthy_n,
                                           time.monotonic() + seconds, 200, rate))}
    if proc is not None:
        out["poison"] = queue.get(timeout=seconds + 30)
        proc.join(30)
    return out


def run(repeat: int, seconds: float, healthy_n: int, poison_n: int,
        load: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        record = _project(Path(tmp))
        healthy = json.dumps(record).encode()
        poison = json.dumps({k: 1e308 for k in record}).encode()
        port = _port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "serve", "cancer", "--host", "127.0.0.1",
             "--port", str(port), "--project", tmp, "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.2)
            capacity = _phase(url, healthy, poison, 3.0, healthy_n, 0, None)
            rate = load * capacity["healthy"]["rps"]
            print(f"capacity {capacity['healthy']['rps']:.0f} req/s; healthy clients offer "
                  f"{rate:.0f} req/s", flush=True)
            runs = []
            for _ in range(repeat):
                clean = _phase(url, healthy, poison, seconds, healthy_n, 0, rate)
                poisoned = _phase(url, healthy, poison, seconds, healthy_n, poison_n, rate)
                ratio = poisoned["healthy"]["rps"] / clean["healthy"]["rps"]
                runs.append({"clean": clean, "poisoned": poisoned, "ratio": ratio})
                print(f"healthy clean {clean['healthy']['rps']:.0f} req/s (p99 "
                      f"{clean['healthy']['p99_ms']:.1f} ms), beside poison "
                      f"{poisoned['healthy']['rps']:.0f} req/s (p99 "
                      f"{poisoned['healthy']['p99_ms']:.1f} ms) while "
                      f"{poisoned['poison']['rps']:.0f} req/s were refused: {ratio:.2f}",
                      flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    ratios = [r["ratio"] for r in runs]
    return {"machine": f"{platform.node()} {os.cpu_count()} cpus, {platform.python_version()}",
            "seconds": seconds, "healthy_connections": healthy_n, "load": load,
            "poison_connections": poison_n, "runs": runs,
            "ratio": {"median": statistics.median(ratios), "min": min(ratios),
                      "max": max(ratios)}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--healthy", type=int, default=8, help="healthy connections")
    p.add_argument("--poison", type=int, default=4, help="poison connections")
    p.add_argument("--load", type=float, default=0.5,
                   help="the healthy clients' offered rate, a share of the capacity")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    result = run(args.repeat, args.seconds, args.healthy, args.poison, args.load)
    r = result["ratio"]
    print(f"healthy throughput with poison / clean: median {r['median']:.2f} "
          f"(min {r['min']:.2f}, max {r['max']:.2f}) over {args.repeat} runs")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
