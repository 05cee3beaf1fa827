"""The dashboard against a big store: how fast the runs page's data and a long run page come.

Fills a fresh project with ``--runs`` runs (default 10,000), each with 20 params and 20
metrics of 100 steps (20 million metric rows at the default), plus one run with 100,000
metric points; starts ``modelyard ui`` on 127.0.0.1 (pinned to ``--cpus`` cores) and times,
``--repeat`` times each (median, min, max):

- the runs page's data request, ``GET /api/runs`` (newest first, 50 a page), then sorted by
  a metric, filtered by a metric and a param, and page 100;
- the runs page as HTML (``GET /runs``);
- the run page with 100,000 metric points as HTML, and, when Debian's chromium is there,
  the time until the browser has drawn it (``load`` event).

Run it by hand (it is not part of the test suite):

    .venv/bin/python benchmarks/bench_ui.py                 # the full 10,000 runs
    .venv/bin/python benchmarks/bench_ui.py --runs 500      # a quick look

Goals (issue 16): the runs data under 300 ms on 2 cores; the long run page drawn in under a
second.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

import modelyard

N_PARAMS, N_METRICS, N_STEPS = 20, 20, 100


def fill(project: Path, runs: int) -> str:
    """Write the runs in bulk (a few thousand rows per statement, 200 runs a transaction)
    through the store's database; return the id of the run with 100,000 points."""
    rng = random.Random(0)
    with modelyard.open(project) as yard:
        db = yard.store.db
        mark = "?" if db.is_sqlite else "%s"

        def sql(table: str, columns: str) -> str:
            n = len(columns.split(","))
            return f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * n)})"

        run_sql = sql("runs", "id, name, experiment, parent_id, status, start_time, end_time, "
                      "heartbeat_at, host, pid, pid_started_at, git_commit, "
                      "environment_json, failure")
        kv_sql = {t: sql(t, "run_id, key, value") for t in ("params", "tags")}
        t0 = time.perf_counter()
        for first in range(0, runs, 200):
            rows: dict[str, list[tuple[Any, ...]]] = {"runs": [], "params": [], "tags": []}
            metrics: list[tuple[str, str, float, int, float]] = []
            for i in range(first, min(first + 200, runs)):
                rid, start = uuid.uuid4().hex, 1.7e9 + i * 60
                rows["runs"].append((rid, f"run-{i:05d}", f"exp-{i % 10}", None, "finished",
                                     start, start + 30, start + 30, "bench", 1, 0.0, "",
                                     "{}", ""))
                rows["params"].extend((rid, f"p{k:02d}", str(round(rng.random() * 10, 3)))
                                      for k in range(N_PARAMS))
                rows["tags"].append((rid, "team", ("risk", "growth", "ops")[i % 3]))
                for k in range(N_METRICS):
                    level = rng.random()
                    metrics.extend((rid, f"m{k:02d}", level / (1 + s), s, start + s)
                                   for s in range(N_STEPS))

            def write(session: Any, rows: dict[str, list[tuple[Any, ...]]] = rows) -> None:
                conn = session.connection()
                conn.exec_driver_sql(run_sql, rows["runs"])
                for table in ("params", "tags"):
                    conn.exec_driver_sql(kv_sql[table], rows[table])

            db.write(write)
            yard.store.runs.insert_metrics(metrics)
            done = min(first + 200, runs)
            if done % 1000 == 0 or done == runs:
                print(f"  {done:,} runs written ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr)
        repo = yard.store.runs
        long_id = uuid.uuid4().hex
        repo.create(run_id=long_id, name="long-run", experiment="long", parent_id=None,
                    host="bench", pid=1, pid_started_at=0.0, git_commit="", environment={},
                    start_time=1.6e9)
        points = [(long_id, f"curve{k}", 1 / (1 + s) + rng.random() * 0.01, s, 1.6e9 + s)
                  for k in range(10) for s in range(10_000)]
        repo.insert_metrics(points)
        repo.end(long_id, status="finished", end_time=1.6e9 + 100)
    return long_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(client: httpx.Client, path: str, repeat: int) -> dict[str, Any]:
    client.get(path).raise_for_status()  # warm: first use of each query plan
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return {"path": path, "median_ms": statistics.median(times), "min_ms": min(times),
            "max_ms": max(times), "bytes": len(r.content)}


def browser_draw(url: str, repeat: int) -> dict[str, Any] | None:
    chromium = os.environ.get("MODELYARD_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        return None
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"])
        page = browser.new_page()
        for _ in range(repeat + 1):
            t = time.perf_counter()
            page.goto(url, wait_until="load")
            page.wait_for_selector("#curves svg")
            times.append((time.perf_counter() - t) * 1000)
        browser.close()
    times = times[1:]
    return {"path": url, "median_ms": statistics.median(times), "min_ms": min(times),
            "max_ms": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=2, help="cores the dashboard may use")
    parser.add_argument("--project", type=Path, help="reuse (or keep) this project folder")
    args = parser.parse_args()
    project = args.project or Path(tempfile.mkdtemp(prefix="bench-ui-"))
    marker = project / "bench-long-run.txt"
    if marker.exists():
        long_id = marker.read_text().strip()
        print(f"reusing {project}", file=sys.stderr)
    else:
        project.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        long_id = fill(project, args.runs)
        marker.write_text(long_id)
        print(f"filled {project} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    port = free_port()
    cpus = set(range(min(args.cpus, os.cpu_count() or 1)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "ui", "--port", str(port), "--project",
         str(project)], env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/login").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("modelyard ui did not start")
                time.sleep(0.2)
            rows = [timed(client, p, args.repeat) for p in (
                "/api/runs",
                "/api/runs?sort=metrics.m03&order=desc",
                "/api/runs?filter=metrics.m05%20%3E%200.5%20and%20params.p02%20%3C%205",
                "/api/runs?page=100",
                "/runs",
                f"/runs/{long_id}",
            )]
        drawn = browser_draw(f"{base}/runs/{long_id}", args.repeat)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"runs: {args.runs:,} x {N_PARAMS} params x {N_METRICS} metrics x {N_STEPS} steps; "
          f"dashboard on {len(cpus)} core(s); {args.repeat} timed requests each")
    print(f"{'request':72} {'median':>9} {'min':>9} {'max':>9}")
    for r in rows + ([{**drawn, "path": "browser: run page with 100,000 points drawn"}]
                     if drawn else []):
        print(f"{r['path'][:72]:72} {r['median_ms']:8.1f}ms {r['min_ms']:8.1f}ms "
              f"{r['max_ms']:8.1f}ms")


if __name__ == "__main__":
    main()
