"""Multi-worker benchmark: requests per second of ``modelyard serve --workers N``.

The model is a HistGradientBoostingClassifier on scikit-learn's breast-cancer set (30
features, shipped with scikit-learn: nothing is downloaded); each request is one JSON
record. The load generator is ``wrk`` (Debian's package: ``apt-get install -y wrk``),
``--wrk-threads`` threads (2 by default), ``--connections`` keep-alive connections (32 by
default; several values run one after the other), on 127.0.0.1, bounded by ``--duration``
seconds per run. Every worker count runs ``--repeat`` times (3 by default) in one
invocation, in rounds (1, 2, 1, 2, ...), so drift in the machine's load spreads over all of
them; each run starts a fresh server, waits for ``/ready``, warms up for 2 s, then
measures. ``--server-cpus`` and ``--client-cpus`` pin the server (its workers inherit it)
and ``wrk`` to CPU lists with ``taskset``; without them the client shares the machine's
cores with the server. The report says which, and names the machine (``--label``).
A run whose server does not start is reported as failed, not left out.

Usage::

    python benchmarks/bench_workers.py --workdir /tmp/bw --out /tmp/bw/workers.json \\
        --markdown docs/benchmarks/workers.md

On a 16-core machine, the server on 8 cores and the client on 4 others::

    python benchmarks/bench_workers.py --workers 1 2 4 8 --connections 32 256 \\
        --server-cpus 0-7 --client-cpus 8-11 --wrk-threads 4 --label "16-core machine"
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import spread, summary

CONNECTIONS = 32
WRK_THREADS = 2
SECTION = "## Serving with several workers"
VERSIONS = ("modelyard", "numpy", "scikit-learn", "uvicorn", "uvloop", "httptools")


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


def pinned(cpus: str | None) -> list[str]:
    """The ``taskset`` prefix that runs a command on ``cpus`` (none when not given)."""
    return ["taskset", "-c", cpus] if cpus else []


class ServerFailed(Exception):
    """The server exited or was not ready in time; the message says which and where."""


def start_server(project: Path, workers: int, log: Path, cpus: str | None = None,
                 ) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start ``modelyard serve`` and wait for /ready; returns it, its URL and seconds to ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*pinned(cpus), sys.executable, "-m", "modelyard", "serve", "cancer@champion", "--host",
             "127.0.0.1", "--port", str(port), "--workers", str(workers), "--project",
             str(project), "--log-level", "warning"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = started + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"the server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url, time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise ServerFailed(f"the server was not ready in 180 s; see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url: str, script: Path, duration_s: float, connections: int = CONNECTIONS,
        threads: int = WRK_THREADS, cpus: str | None = None) -> dict[str, Any]:
    """One bounded wrk run; requests per second, latency percentiles and errors."""
    out = subprocess.run(
        [*pinned(cpus), "wrk", "-t", str(threads), "-c", str(connections), "-d",
         f"{duration_s:g}s",
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


def machine(args: argparse.Namespace) -> dict[str, Any]:
    """What ran this: cores, processor, versions, pinning, load and the time (UTC)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else ""
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"label": args.label, "cpus": os.cpu_count(), "processor": model,
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "server_cpus": args.server_cpus,
            "client_cpus": args.client_cpus, "wrk_threads": args.wrk_threads,
            "load_before": os.getloadavg()[0],
            "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def one_run(project: Path, script: Path, work: Path, workers: int, connections: int,
            args: argparse.Namespace) -> dict[str, Any]:
    """A fresh server with ``workers`` workers, a 2 s warm-up, then one measured wrk run."""
    try:
        proc, url, ready_s = start_server(project, workers, work / "server.log",
                                          args.server_cpus)
    except ServerFailed as exc:
        return {"failed": str(exc)}
    try:
        load = {"connections": connections, "threads": args.wrk_threads,
                "cpus": args.client_cpus}
        wrk(url, script, 2.0, **load)
        result = wrk(url, script, args.duration, **load)
    except (subprocess.SubprocessError, AttributeError) as exc:
        result = {"failed": f"wrk did not finish: {exc}"}
    finally:
        stop_server(proc)
    result["ready_s"] = round(ready_s, 2)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    project, body = make_project(work)
    script = post_script(work, body)
    results = {"machine": machine(args), "duration_s": args.duration, "repeat": args.repeat,
               "runs": {str(c): {str(w): [] for w in args.workers} for c in args.connections}}
    for connections in args.connections:
        for round_ in range(args.repeat):
            for workers in args.workers:
                result = one_run(project, script, work, workers, connections, args)
                results["runs"][str(connections)][str(workers)].append(result)
                if "failed" in result:
                    print(f"c={connections}, round {round_ + 1}, {workers} worker(s): failed: "
                          f"{result['failed']}", flush=True)
                else:
                    print(f"c={connections}, round {round_ + 1}, {workers} worker(s): "
                          f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 "
                          f"{result['p99_ms']:.1f} ms, non-2xx {result['non_2xx']}, ready in "
                          f"{result['ready_s']:.1f} s", flush=True)
                if args.out:  # after every run, so a run cut short still leaves its data
                    Path(args.out).write_text(json.dumps(results, indent=2))
    results["machine"]["load_after"] = os.getloadavg()[0]
    return results


def _cores(m: dict[str, Any]) -> str:
    if m.get("server_cpus") and m.get("client_cpus"):
        return (f"the server pinned to CPUs {m['server_cpus']} (`taskset`, its workers "
                f"included) and `wrk` to CPUs {m['client_cpus']}, of {m['cpus']}")
    return f"{m['cpus']} cores shared by the client and the server"


def _table(runs: dict[int, list[dict[str, Any]]], planned: int) -> list[str]:
    lines = ["| workers | requests/s | p50 ms | p99 ms | runs | failed runs | non-2xx and "
             "socket errors | start to ready, s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w, rs in sorted(runs.items()):
        ok = [r for r in rs if "failed" not in r]
        done = f"{len(rs)} of {planned}"
        failed = f"{len(rs) - len(ok)}"
        if not ok:
            lines.append(f"| {w} | failed | | | {done} | {failed} | | |")
            continue
        lines.append(f"| {w} | {spread(summary(r['rps'] for r in ok))} | "
                     f"{spread(summary(r['p50_ms'] for r in ok))} | "
                     f"{spread(summary(r['p99_ms'] for r in ok))} | {done} | {failed} | "
                     f"{sum(r['non_2xx'] + r['socket_errors'] for r in ok)} | "
                     f"{statistics.median(r['ready_s'] for r in ok):.1f} |")
    return lines


def _scaling(runs: dict[int, list[dict[str, Any]]], planned: int) -> list[str]:
    """One generated sentence per worker count against one worker's median."""
    def median_rps(w: int) -> tuple[float, int] | None:
        ok = [r["rps"] for r in runs.get(w, []) if "failed" not in r]
        return (statistics.median(ok), len(ok)) if ok else None

    one = median_rps(1)
    if one is None:
        return []
    lines = []
    for w in sorted(runs):
        many = median_rps(w)
        if w == 1 or many is None:
            continue
        few = "" if min(many[1], one[1]) >= planned else (
            f" From {many[1]} and {one[1]} run(s), not {planned}: a single figure, no "
            "spread.")
        lines.append(f"- {w} workers: {many[0] / one[0]:.2f}x the throughput of one, "
                     f"{many[0] / (w * one[0]):.0%} of linear ({many[0]:,.0f} / ({w} x "
                     f"{one[0]:,.0f})).{few}")
    return lines


def _machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    processor = f" ({m['processor']})" if m.get("processor") else ""
    load = f"load average {m['load_before']:.1f} at the start"
    if "load_after" in m:
        load += f" and {m['load_after']:.1f} at the end"
    started = f"; started {m['started']}" if m.get("started") else ""
    return (f"Machine: {m['cpus']} cores{processor}, {_cores(m)}; {load}. Python "
            f"{m['python']}" + (f", {versions}" if versions else "") + f"{started}. `wrk` "
            f"with {m.get('wrk_threads', WRK_THREADS)} threads, "
            f"{results['duration_s']:g} s per run.")


def markdown(*files: dict[str, Any]) -> str:
    """The report section: one subsection per results file (a machine each)."""
    lines = [SECTION, "",
             "`modelyard serve cancer@champion --workers N` (HistGradientBoosting, 30 features, "
             "one JSON record per request, prediction log on), driven by `wrk` with keep-alive "
             "connections on 127.0.0.1, after a 2 s warm-up; a fresh server for every run, the "
             "worker counts in alternating rounds. Median (min-max) of the runs, each machine's "
             "from one invocation of `python benchmarks/bench_workers.py`. The workers (a uvicorn "
             "server each) share one listening socket that their parent opened, so the kernel "
             "hands each new connection to whichever worker accepts it first."]
    for results in files:
        all_runs = results["runs"]
        if all_runs and not isinstance(next(iter(all_runs.values())), dict):
            all_runs = {str(results.get("connections", CONNECTIONS)): all_runs}  # older files
        planned = results.get("repeat") or max(
            len(rs) for by_w in all_runs.values() for rs in by_w.values())
        label = results["machine"].get("label") or f"{results['machine']['cpus']} cores"
        lines += ["", f"### {label[0].upper()}{label[1:]}", "", _machine_line(results)]
        for connections, by_workers in all_runs.items():
            runs = {int(w): rs for w, rs in by_workers.items()}
            lines += ["", f"#### {connections} connections", "", *_table(runs, planned)]
            if any(len(rs) < planned for rs in runs.values()):
                lines += ["", f"Not every round ran: the invocation ended before "
                              f"{sum(planned - len(rs) for rs in runs.values())} of the "
                              f"{planned * len(runs)} planned runs at {connections} "
                              "connections."]
            scaling = _scaling(runs, planned)
            if scaling:
                lines += ["", *scaling]
        lines += ["", f"Reproduce: `{_command(results, all_runs, planned)}`."]
    lines += ["", "`apt-get install -y wrk` first; `python benchmarks/bench_workers.py --report "
              "RESULTS.json ... --markdown docs/benchmarks/workers.md` writes this page from "
              "the results files, one section per machine."]
    return "\n".join(lines) + "\n"


def _command(results: dict[str, Any], all_runs: dict[str, Any], planned: int) -> str:
    """The command line that measures what a results file holds."""
    m = results["machine"]
    workers = sorted({int(w) for by_w in all_runs.values() for w in by_w})
    parts = ["python benchmarks/bench_workers.py", "--workers", *map(str, workers),
             "--connections", *all_runs.keys(), "--repeat", str(planned), "--duration",
             f"{results['duration_s']:g}", "--wrk-threads",
             str(m.get("wrk_threads", WRK_THREADS))]
    if m.get("server_cpus"):
        parts += ["--server-cpus", m["server_cpus"]]
    if m.get("client_cpus"):
        parts += ["--client-cpus", m["client_cpus"]]
    return " ".join(parts) + " --out RESULTS.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/modelyard-bench-workers")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the report section here")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, nargs="+", default=[CONNECTIONS],
                        help="wrk's keep-alive connections; several values run in turn")
    parser.add_argument("--wrk-threads", type=int, default=WRK_THREADS)
    parser.add_argument("--server-cpus", help="pin the server to these CPUs (taskset list)")
    parser.add_argument("--client-cpus", help="pin wrk to these CPUs (taskset list)")
    parser.add_argument("--label", default="", help="names the machine in the report")
    parser.add_argument("--report", nargs="+", metavar="RESULTS",
                        help="only write the report of these results files (a machine each)")
    args = parser.parse_args()
    if args.report:
        text = markdown(*(json.loads(Path(f).read_text()) for f in args.report))
        print(text)
        if args.markdown:
            Path(args.markdown).write_text(text)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    if (args.server_cpus or args.client_cpus) and shutil.which("taskset") is None:
        raise SystemExit("--server-cpus and --client-cpus need taskset (util-linux)")
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
