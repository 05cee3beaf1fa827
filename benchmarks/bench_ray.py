"""Ray benchmark: tuning trials and batch scoring on a local 2-CPU Ray cluster against the
same work in-process, and Ray's start-up cost on its own.

One invocation measures everything and writes the report::

    python benchmarks/bench_ray.py --workdir /tmp/bray --out /tmp/bray/ray.json \\
        --markdown docs/benchmarks/ray.md

- ``startup``: ``RayCluster(num_cpus=2)`` started on 127.0.0.1 (no dashboard), one trivial
  task answered (a worker process started), then shut down; a fresh cluster each time.
- ``tuning``: ``modelyard.train.train`` with ``--trials`` (16) Optuna trials of a
  HistGradientBoostingClassifier, 3-fold, on ``--tune-rows`` rows; in-process (sequential,
  the default executor) and on the Ray cluster (``RayExecutor``, 2 trials at a time), in
  alternating rounds, each in a fresh project (a fresh study). The cluster is started
  once, before the first Ray round, so its start-up is not in these figures (see
  ``startup``); the first Ray round does include its workers importing scikit-learn.
- ``scoring``: ``modelyard.distributed.score`` of ``--rows`` (1,000,000) rows with a
  HistGradientBoosting model, in 50,000-row chunks: in-process (``executor="local"``) and
  Ray Data on the same cluster; the scoring time (checked rows in, predictions out) and the
  whole job (loading the input, checking it, scoring, storing the predictions as a dataset
  version). Both outputs are compared: they must be identical.

Each side runs ``--repeat`` times (at least 3); figures are the median (min-max).

``--serving`` measures the prediction service instead (its own report section,
``SERVING_SECTION``, put in ``--markdown`` in place of an earlier one): requests/s of
``modelyard serve --backend ray --replicas 2`` (Ray Serve's proxy in front of two replicas,
on a 2-CPU cluster started once and joined by address) against ``--workers 2`` (uvicorn
worker processes on one socket), the model and load of ``bench_workers.py`` (wrk, 32
keep-alive connections, one JSON record per request), the two sides in alternating rounds,
a fresh server each run::

    python benchmarks/bench_ray.py --serving --workdir /tmp/bray --out /tmp/bray/serving.json \
        --markdown docs/benchmarks/ray.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import fmt, machine, replace_section, spread, summary

SECTION = "## Ray: tuning and batch scoring"
SERVING_SECTION = "## Ray Serve replicas against worker processes"


def _frame(n: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["channel"] = rng.choice(["web", "shop", "phone"], size=n)
    logit = frame["x0"] - 0.5 * frame["x1"] + (frame["channel"] == "web") + 0.3 * frame["x2"] ** 2
    frame["y"] = (logit + rng.normal(scale=0.7, size=n) > 0.5).astype("int64")
    return frame


def _spec(trials: int) -> dict[str, Any]:
    return {"model": "bench", "dataset": "tx@latest", "target": "y",
            "estimator": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                          "params": {"max_iter": 30, "random_state": 0}},
            "tune": {"trials": trials, "cv": 3}}


def bench_startup(workdir: Path) -> float:
    from modelyard.distributed import RayCluster

    temp = tempfile.mkdtemp(prefix="bray-", dir="/tmp")
    started = time.perf_counter()
    with RayCluster("", num_cpus=2, temp_dir=temp) as cluster:
        ray = cluster.connect()
        ray.get(ray.remote(lambda: 1).remote())
        took = time.perf_counter() - started
    shutil.rmtree(temp, ignore_errors=True)
    return took


def bench_tuning(workdir: Path, executor: Any, trials: int, rows: int) -> float:
    import modelyard
    from modelyard.train import study_storage, train

    root = Path(tempfile.mkdtemp(prefix="tune-", dir=workdir))
    with modelyard.open(root) as yard:
        yard.datasets.ingest(_frame(rows, seed=0), name="tx")
        url = yard.store.db.engine.url.render_as_string(hide_password=False)
        started = time.perf_counter()
        result = train(yard, _spec(trials), executor=executor, study_storage=study_storage(url))
        took = time.perf_counter() - started
        finished = [r for r in yard.runs.list(parent_id=result.run_id, limit=100)
                    if r.status == "finished"]
        if len(finished) != trials:
            raise RuntimeError(f"{len(finished)} of {trials} trials finished")
    shutil.rmtree(root, ignore_errors=True)
    return took


def bench_scoring(yard: Any, executor: str, cluster: Any) -> tuple[float, float, str]:
    from modelyard.distributed import score

    started = time.perf_counter()
    result = score(yard, "bench@champion", "big@1", executor=executor, cluster=cluster,
                   batch_size=50_000, output=f"big-scored-{executor}",
                   keep_input=False)
    return result.seconds, time.perf_counter() - started, result.output.content_hash


def run(args: argparse.Namespace) -> dict[str, Any]:
    import modelyard
    from modelyard.distributed import RayCluster, RayExecutor
    from modelyard.train import InProcessExecutor, train

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"machine_start": machine(), "repeat": args.repeat,
                           "trials": args.trials, "tune_rows": args.tune_rows,
                           "rows": args.rows}
    import optuna
    import ray
    import sklearn

    out["versions"] = {"ray": ray.__version__, "optuna": optuna.__version__,
                       "scikit-learn": sklearn.__version__, "modelyard": modelyard.__version__}
    startup = []
    for i in range(args.repeat):
        startup.append(bench_startup(workdir))
        print(f"startup {i}: {startup[-1]:.1f} s", flush=True)
    out["startup_s"] = startup
    temp = tempfile.mkdtemp(prefix="bray-", dir="/tmp")
    local_tune, ray_tune, local_score, ray_score = [], [], [], []
    local_job, ray_job = [], []
    identical = True
    with RayCluster("", num_cpus=2, temp_dir=temp) as cluster:
        cluster.connect()
        for i in range(args.repeat):
            local_tune.append(bench_tuning(workdir, InProcessExecutor(), args.trials,
                                           args.tune_rows))
            ray_tune.append(bench_tuning(workdir, RayExecutor(cluster), args.trials,
                                         args.tune_rows))
            print(f"tuning {i}: local {local_tune[-1]:.1f} s, ray {ray_tune[-1]:.1f} s",
                  flush=True)
        root = workdir / "scoring"
        shutil.rmtree(root, ignore_errors=True)
        with modelyard.open(root) as yard:
            yard.datasets.ingest(_frame(20_000, seed=0), name="tx")
            spec = _spec(0)
            train(yard, spec, aliases=("champion",))
            yard.datasets.ingest(_frame(args.rows, seed=1).drop(columns=["y"]), name="big")
            for i in range(args.repeat):
                s, job, local_hash = bench_scoring(yard, "local", None)
                local_score.append(s)
                local_job.append(job)
                s, job, ray_hash = bench_scoring(yard, "ray", cluster)
                ray_score.append(s)
                ray_job.append(job)
                identical = identical and local_hash == ray_hash
                print(f"scoring {i}: local {local_score[-1]:.1f} s, ray {ray_score[-1]:.1f} s",
                      flush=True)
    shutil.rmtree(temp, ignore_errors=True)
    out.update(tuning_local_s=local_tune, tuning_ray_s=ray_tune, scoring_local_s=local_score,
               scoring_ray_s=ray_score, job_local_s=local_job, job_ray_s=ray_job,
               identical=identical, machine_end=machine())
    return out


def single_thread(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """In-process tuning again with one thread per fit (``threadpool_limits(1)``), as a Ray
    trial gets: what sequential tuning costs without OpenMP's threads."""
    from threadpoolctl import threadpool_limits

    from modelyard.train import InProcessExecutor

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    times = []
    with threadpool_limits(1):
        for i in range(args.repeat):
            times.append(bench_tuning(workdir, InProcessExecutor(), data["trials"],
                                      data["tune_rows"]))
            print(f"tuning {i}: local, one thread {times[-1]:.1f} s", flush=True)
    data["tuning_local1_s"] = times
    data["machine_single"] = machine()


def report(data: dict[str, Any]) -> str:
    m0, m1 = data["machine_start"], data["machine_end"]
    start = summary(data["startup_s"])
    lt, rt = summary(data["tuning_local_s"]), summary(data["tuning_ray_s"])
    ls, rs = summary(data["scoring_local_s"]), summary(data["scoring_ray_s"])
    lj, rj = summary(data["job_local_s"]), summary(data["job_ray_s"])
    tune_speedup = lt["median"] / rt["median"]
    score_speedup = ls["median"] / rs["median"]
    rows, trials = data["rows"], data["trials"]
    v = data["versions"]
    lines = [
        SECTION, "",
        f"{trials} Optuna trials (HistGradientBoosting, 3-fold, {data['tune_rows']:,} rows) "
        f"and batch scoring of {rows:,} rows, in-process against a local Ray cluster of 2 "
        f"CPUs on 127.0.0.1. Machine: {m0['cpus']} cores ({m0['platform']}), Python "
        f"{m0['python']}, Ray {v['ray']}, Optuna {v['optuna']}, scikit-learn "
        f"{v['scikit-learn']}; {m0['date']}. Load at the start: `{m0['uptime']}`; at the "
        f"end: `{m1['uptime']}` (the 2 cores are shared with other work, so the runs "
        f"spread). Median (min\u2013max) of {data['repeat']} runs each, from one invocation "
        "of `python benchmarks/bench_ray.py`. No machine with more cores (the `device` "
        "tool) was available to this session: the 2, 4, 8 and 16-CPU scaling the issue "
        "asks for is not measured.", "",
        "| work | in-process | Ray (2 CPUs) | speed-up | scaling efficiency |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| {trials} tuning trials, s | {spread(lt)} | {spread(rt)} | "
        f"{fmt(tune_speedup)}x | {fmt(100 * tune_speedup / 2)}% |",
        *([f"| {trials} tuning trials, in-process with one thread per fit, s | "
           f"{spread(summary(data['tuning_local1_s']))} | {spread(rt)} | "
           f"{fmt(summary(data['tuning_local1_s'])['median'] / rt['median'])}x | "
           f"{fmt(50 * summary(data['tuning_local1_s'])['median'] / rt['median'])}% |"]
          if "tuning_local1_s" in data else []),
        f"| scoring {rows:,} rows, s | {spread(ls)} | {spread(rs)} | "
        f"{fmt(score_speedup)}x | {fmt(100 * score_speedup / 2)}% |",
        f"| whole scoring job (load, check, score, store), s | {spread(lj)} | {spread(rj)} | "
        f"{fmt(lj['median'] / rj['median'])}x | |",
        f"| Ray start-up (start a 2-CPU cluster, answer one task), s | | {spread(start)} | | |",
        "",
        f"Scoring throughput: {fmt(rows / ls['median'])} rows/s in-process, "
        f"{fmt(rows / rs['median'])} rows/s on Ray Data. The two outputs were "
        + ("identical in every run (same content hash)." if data["identical"] else
           "**not identical** in some run."),
        "",
        "The tuning figures exclude the cluster's start-up (it was started once, before "
        "the first round) but include, in the first Ray round, its two workers importing "
        "scikit-learn; the start-up row is what a command that starts its own cluster "
        f"(no `MODELYARD_RAY_ADDRESS`) pays on top: {fmt(start['median'])} s here. "
        "Scaling efficiency is the speed-up over the number of CPUs (2); above 100% means "
        "the in-process side lost more than parallelism explains. Threads differ between "
        "the sides, as they do for a user: in-process, each HistGradientBoosting fit uses "
        "OpenMP threads on every core, while Ray gives each 1-CPU trial one thread "
        "(`OMP_NUM_THREADS=1`) and runs two trials at once; on a machine loaded by other "
        "work, OpenMP's threads wait on each other and on the other work, which is part "
        "of the in-process figure."
        + (" The one-thread row was measured by a second invocation "
           f"(`--single-thread`, {data['machine_single']['date']}, load "
           f"`{data['machine_single']['uptime']}`) against the same Ray figures."
           if "tuning_local1_s" in data else ""), "",
        "Reproduce: `python benchmarks/bench_ray.py --workdir /tmp/bray --out "
        "/tmp/bray/ray.json --markdown docs/benchmarks/ray.md` (`--repeat`, `--trials`, "
        "`--rows`, `--tune-rows`), then the same with `--single-thread` for the one-thread "
        "row.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--markdown")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--tune-rows", type=int, default=4_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--report-only", action="store_true",
                        help="Only write the report from --out.")
    parser.add_argument("--single-thread", action="store_true",
                        help="Add in-process tuning with one thread per fit to --out.")
    parser.add_argument("--serving", action="store_true",
                        help="Measure serve --backend ray --replicas 2 against --workers 2.")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="Seconds of load per serving run.")
    args = parser.parse_args()
    if args.repeat < 3 and not args.report_only:
        parser.error("--repeat must be at least 3 (the reports' rule)")
    if args.serving:
        serving_main(args)
        return
    if args.report_only or args.single_thread:
        data = json.loads(Path(args.out).read_text())
        if args.single_thread:
            single_thread(args, data)
            Path(args.out).write_text(json.dumps(data, indent=1))
    else:
        data = run(args)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data, indent=1))
    text = report(data)
    if args.markdown:
        Path(args.markdown).write_text("# Ray benchmark\n\n" + text, encoding="utf-8")
    print(text)


def serving_main(args: argparse.Namespace) -> None:
    """``--serving``: measure (or, with ``--report-only``, report) the serving comparison."""
    if args.report_only:
        data = json.loads(Path(args.out).read_text())
    else:
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is not installed: apt-get install -y wrk")
        data = run_serving(args)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data, indent=1))
    text = serving_report(data)
    if args.markdown:
        replace_section(Path(args.markdown), SERVING_SECTION, text)
    print(text)


def run_serving(args: argparse.Namespace) -> dict[str, Any]:
    """Alternating rounds of ``--workers 2`` and ``--backend ray --replicas 2``."""
    import ray
    from bench_workers import make_project, post_script, stop_server, wrk

    import modelyard
    from modelyard.distributed import RayCluster

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    project, body = make_project(work)
    script = post_script(work, body)
    out: dict[str, Any] = {"machine_start": machine(), "repeat": args.repeat,
                           "duration_s": args.duration,
                           "versions": {"ray": ray.__version__,
                                        "modelyard": modelyard.__version__},
                           "workers": [], "replicas": [], "floor": []}
    floor = work / "floor.py"
    floor.write_text(FLOOR_APP)
    serve_cmd = [sys.executable, "-m", "modelyard", "serve", "cancer@champion", "--project",
                 str(project), "--log-level", "warning", "--host", "127.0.0.1", "--port"]
    temp = tempfile.mkdtemp(prefix="bray-", dir="/tmp")
    with RayCluster("", num_cpus=2, temp_dir=temp) as cluster:
        address = cluster.connect().get_runtime_context().gcs_address
        ray_env = {"MODELYARD_RAY_ADDRESS": address}
        sides = {"workers": (serve_cmd, ["--workers", "2"], {}),
                 "replicas": (serve_cmd, ["--backend", "ray", "--replicas", "2"], ray_env),
                 "floor": ([sys.executable, str(floor), address], [], {})}
        for round_ in range(args.repeat):
            for side, (cmd, flags, env) in sides.items():
                proc, url, ready_s = _start(cmd, flags, env, work / "server.log")
                try:
                    wrk(url, script, 2.0)  # warm-up
                    result = wrk(url, script, args.duration)
                finally:
                    stop_server(proc)
                result["ready_s"] = round(ready_s, 2)
                out[side].append(result)
                print(f"round {round_ + 1}, {side}: {result['rps']:.0f} req/s, p50 "
                      f"{result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, non-2xx "
                      f"{result['non_2xx']}, ready in {ready_s:.1f} s", flush=True)
    shutil.rmtree(temp, ignore_errors=True)
    out["machine_end"] = machine()
    return out


#: Ray Serve's floor: the same deployment options, an app that only reads the body and
#: answers a small JSON (``python floor.py GCS_ADDRESS PORT``), stopped by SIGTERM
FLOOR_APP = """
import signal, sys, threading
import ray
from fastapi import FastAPI, Request
from ray import serve

app = FastAPI()

@app.get("/ready")
async def ready() -> dict:
    return {"ready": True}

@app.post("/{path:path}")
async def echo(path: str, request: Request) -> dict:
    return {"bytes": len(await request.body())}

ray.init(address=sys.argv[1], log_to_driver=False)
serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[2])})
Floor = serve.deployment(num_replicas=2, max_ongoing_requests=1024)(serve.ingress(app)(
    type("Floor", (), {})))
serve.run(Floor.bind(), name="floor", route_prefix="/")
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
serve.delete("floor")
serve.shutdown()
"""


def _start(cmd: list[str], flags: list[str], env: dict[str, str], log: Path) -> tuple[Any, str,
                                                                                   float]:
    """Start ``cmd PORT flags`` and wait for /ready (as ``bench_workers``)."""
    import os
    import subprocess

    import httpx
    from bench_workers import free_port, stop_server

    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    environ.update(env)
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen([*cmd, str(port), *flags], env=environ, stdout=out,
                                stderr=out)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < started + 240:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url, time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"the server was not ready in 240 s; see {log}")


def serving_report(data: dict[str, Any]) -> str:
    """The Markdown section of the serving comparison, from the run's data."""
    m0, m1 = data["machine_start"], data["machine_end"]
    rows = []
    for side, label in (("workers", "`--workers 2` (uvicorn processes)"),
                        ("replicas", "`--backend ray --replicas 2` (Ray Serve)"),
                        ("floor", "Ray Serve's floor: 2 replicas that only read the body")):
        runs = data.get(side)
        if not runs:
            continue
        rps = summary(r["rps"] for r in runs)
        p50, p99 = summary(r["p50_ms"] for r in runs), summary(r["p99_ms"] for r in runs)
        ready = summary(r["ready_s"] for r in runs)
        bad = sum(r["non_2xx"] + r["socket_errors"] for r in runs)
        rows.append(f"| {label} | {spread(rps)} | {spread(p50)} | {spread(p99)} | {bad} | "
                    f"{spread(ready)} |")
    def median_rps(side: str) -> float:
        return float(summary(r["rps"] for r in data[side])["median"])

    ratio = median_rps("replicas") / median_rps("workers")
    floor = (f" A FastAPI app on the same Ray Serve deployment options that only reads the "
             f"request body and answers a small JSON (no model, no validation, no log) "
             f"answered {fmt(median_rps('floor'))} requests/s: modelyard's replicas reach "
             f"{fmt(100 * median_rps('replicas') / median_rps('floor'))}% of what Ray Serve "
             "itself carries here." if data.get("floor") else "")
    busy = max(float(m["uptime"].rsplit("load average:", 1)[-1].split(",")[0])
               for m in (m0, m1) if "load average:" in m["uptime"])
    lines = [
        SERVING_SECTION, "",
        f"`modelyard serve cancer@champion` (HistGradientBoosting, 30 features, one JSON "
        f"record per request, prediction log on) driven by `wrk` (2 threads, 32 keep-alive "
        f"connections, {fmt(data['duration_s'])} s per run after a 2 s warm-up) on 127.0.0.1: "
        f"two uvicorn worker processes on one socket against two Ray Serve replicas behind "
        f"Ray Serve's HTTP proxy, on a local 2-CPU Ray cluster started once and joined by "
        f"address (it stays up, idle, during the worker runs). A fresh server each run, the "
        f"sides in alternating rounds; median (min\u2013max) of {data['repeat']} runs each, "
        f"from one invocation of `python benchmarks/bench_ray.py --serving`. Machine: "
        f"{m0['cpus']} cores ({m0['platform']}) shared by client, servers and other work, "
        f"Python {m0['python']}, Ray {data['versions']['ray']}; {m0['date']}. Load at the "
        f"start: `{m0['uptime']}`; at the end: `{m1['uptime']}`"
        + (" (**under load**: other work ran on these cores, so the runs spread)."
           if busy > 1.5 else "."), "",
        "| server | requests/s | p50 ms | p99 ms | non-2xx or socket errors | start to "
        "ready, s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows, "",
        f"Ray Serve's replicas answered {fmt(ratio)}x the requests per second of the worker "
        f"processes.{floor} With Ray Serve each request crosses more processes (the proxy, "
        "then the replica, which fetches the body from the proxy over Ray's RPC) where a "
        "worker answers its socket itself; what Ray Serve buys is replicas that Ray places, "
        "restarts and scales on a cluster, not throughput on one small machine.", "",
        "Reproduce: `python benchmarks/bench_ray.py --serving --workdir /tmp/bray --out "
        "/tmp/bray/serving.json --markdown docs/benchmarks/ray.md` (`--repeat`, "
        "`--duration`).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
