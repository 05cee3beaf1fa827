"""Multi-worker benchmark: requests per second of ``modelyard serve --workers N`` at c=32.

The model is a HistGradientBoostingClassifier on scikit-learn's breast-cancer set (30
features, shipped with scikit-learn: nothing is downloaded); each request is one JSON
record. The load generator is ``wrk`` (Debian's package: ``apt-get install -y wrk``), 2
threads, 32 keep-alive connections, on 127.0.0.1, bounded by ``--duration`` seconds per
run. Every worker count runs ``--repeat`` times (3 by default) in one invocation, in
rounds (1, 2, 1, 2, ...), so drift in the machine's load spreads over both; each run starts
a fresh server, waits for ``/ready``, warms up for 2 s, then measures. The client runs on
the same machine as the server and takes its share of the cores: the report says how
many there are.

Usage::

    python benchmarks/bench_workers.py --workdir /tmp/bw --out /tmp/bw/workers.json \\
        --markdown docs/benchmarks/workers.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

CONNECTIONS = 32
WRK_THREADS = 2
SECTION = "## Serving with several workers"


def make_project(root: Path) -> tuple[Path, str]:
    """A project serving 'cancer' (v1, champion); returns it and one request body."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier

    import modelyard

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [str(c).replace(" ", "_") for c in X.columns]
    project = root / "project"
    if not (project / ".modelyard").exists():
        with modelyard.open(project) as yard:
            v1 = yard.models.register("cancer", HistGradientBoostingClassifier(
                max_iter=20, random_state=0).fit(X, y), input_example=X.head(10))
            yard.models.alias("cancer", "champion", v1.version)
    return project, json.dumps({k: float(v) for k, v in X.iloc[0].items()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(project: Path, workers: int, log: Path) -> tuple[subprocess.Popen[bytes],
                                                                     str, float]:
    """Start ``modelyard serve`` and wait for /ready; returns it, its URL and seconds to ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "serve", "cancer@champion", "--host",
             "127.0.0.1", "--port", str(port), "--workers", str(workers), "--project",
             str(project), "--log-level", "warning"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = started + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url, time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"the server was not ready in 180 s; see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url: str, script: Path, duration_s: float) -> dict[str, Any]:
    """One bounded wrk run; requests per second, latency percentiles and errors."""
    out = subprocess.run(
        ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{duration_s:g}s",
         "--timeout", "10s", "--latency", "-s", str(script),
         f"{url}/v1/models/cancer/predict"],
        capture_output=True, text=True, timeout=duration_s + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)

    def ms(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
        if m is None:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    return {"rps": rps, "requests": total, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
            "p50_ms": ms("50"), "p99_ms": ms("99")}


def post_script(work: Path, body: Any) -> Path:
    """wrk's Lua script posting ``body`` as JSON, written in ``work``."""
    script = work / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(body)}\n")
    return script


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    project, body = make_project(work)
    script = post_script(work, body)
    runs: dict[int, list[dict[str, Any]]] = {w: [] for w in args.workers}
    for round_ in range(args.repeat):
        for workers in args.workers:
            proc, url, ready_s = start_server(project, workers, work / "server.log")
            try:
                wrk(url, script, 2.0)  # warm-up
                result = wrk(url, script, args.duration)
            finally:
                stop_server(proc)
            result["ready_s"] = round(ready_s, 2)
            runs[workers].append(result)
            print(f"round {round_ + 1}, {workers} worker(s): {result['rps']:.0f} req/s, "
                  f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                  f"non-2xx {result['non_2xx']}, ready in {ready_s:.1f} s", flush=True)
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(),
                        "load_before": os.getloadavg()[0]},
            "connections": CONNECTIONS, "duration_s": args.duration, "runs": runs}


def _stat(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def markdown(results: dict[str, Any]) -> str:
    runs = {int(k): v for k, v in results["runs"].items()}
    m = results["machine"]
    lines = [SECTION, "",
             f"`modelyard serve cancer@champion --workers N` (HistGradientBoosting, 30 "
             f"features, one JSON record per request, prediction log on), driven by `wrk` "
             f"with {WRK_THREADS} threads and {results['connections']} keep-alive "
             f"connections for {results['duration_s']:g} s per run on 127.0.0.1, after a 2 s "
             f"warm-up; a fresh server each run, the worker counts in alternating rounds. "
             f"Machine: {m['cpus']} cores shared by the client and the server (and, while "
             f"this ran, other work: load average {m['load_before']:.1f} at the start), "
             f"Python {m['python']}. Median (min-max) of {len(next(iter(runs.values())))} "
             "runs each, from one invocation of `python benchmarks/bench_workers.py`.", "",
             "| workers | requests/s | p50 ms | p99 ms | non-2xx | start to ready, s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w, rs in sorted(runs.items()):
        lines.append(f"| {w} | {_stat([r['rps'] for r in rs])} | "
                     f"{statistics.median(r['p50_ms'] for r in rs):.1f} | "
                     f"{statistics.median(r['p99_ms'] for r in rs):.1f} | "
                     f"{sum(r['non_2xx'] + r['socket_errors'] for r in rs)} | "
                     f"{statistics.median(r['ready_s'] for r in rs):.1f} |")
    if 1 in runs and len(runs) > 1:
        one = statistics.median(r["rps"] for r in runs[1])
        for w, rs in sorted(runs.items()):
            if w == 1:
                continue
            many = statistics.median(r["rps"] for r in rs)
            lines += ["", f"Scaling efficiency with {w} workers: {many / one:.2f}x the "
                          f"throughput of one, {many / (w * one):.0%} of linear "
                          f"({many:,.0f} / ({w} x {one:,.0f}))."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/modelyard-bench-workers")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the report section here")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    results = run(args)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    text = markdown(results)
    print(text)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
