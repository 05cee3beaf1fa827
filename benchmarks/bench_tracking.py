"""Tracking benchmark: modelyard against MLflow, both on a SQLite file.

Each side runs in its own interpreter (MLflow in ``benchmarks/.venv-mlflow``, modelyard in the
project's ``.venv``), so this file imports neither at the top. ``benchmarks/run.sh`` runs::

    python bench_tracking.py modelyard --workdir DIR --out results/tracking-modelyard.json
    python bench_tracking.py mlflow    --workdir DIR --out results/tracking-mlflow.json
    python bench_tracking.py report results/tracking-*.json --markdown docs/BENCHMARKS.md

Measured (median of ``--repeat`` rounds, each in a fresh run):

- ``single``: 2,000 ``log_metric`` calls, one value each; then ending the run, after which
  every value must be readable (checked with a fresh client).
- ``batch``: 2,000 values as 20 calls of 100 keys (``log_metrics``; MLflow's ``log_metrics``
  is ``log_batch``).
- ``runs``: 100 runs started and ended.
- modelyard only, ``sustained``: 200,000 single calls, so the writer thread flushes (and
  competes for the GIL) while the caller logs.
- MLflow only, ``single_async``: the same with ``synchronous=False`` (MLflow's own
  asynchronous logging), for reference.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

N_VALUES = 2000
N_KEYS = 100
N_RUNS = 100
N_SUSTAINED = 200_000  # modelyard only: long enough for the writer to flush meanwhile


def _median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


# -- modelyard ------------------------------------------------------------------------------


def bench_modelyard(workdir: Path, repeat: int) -> dict[str, Any]:
    import modelyard

    def fresh_history(run_id: str, key: str) -> list[float]:
        with modelyard.open(workdir) as reader:
            return [m.value for m in reader.runs.metric_history(run_id, key)]

    yard = modelyard.open(workdir)
    yard.run("warm-up").end()

    def single() -> dict[str, float]:
        run = yard.run("single")
        t0 = time.perf_counter()
        for i in range(N_VALUES):
            run.log_metric("loss", i * 0.5, step=i)
        t1 = time.perf_counter()
        run.end()
        t2 = time.perf_counter()
        assert fresh_history(run.id, "loss") == [i * 0.5 for i in range(N_VALUES)]
        return {"per_call_s": (t1 - t0) / N_VALUES, "end_s": t2 - t1, "total_s": t2 - t0}

    def batch() -> dict[str, float]:
        run = yard.run("batch")
        keys = [f"m{k}" for k in range(N_KEYS)]
        t0 = time.perf_counter()
        for step in range(N_VALUES // N_KEYS):
            run.log_metrics({k: step + j / 1000 for j, k in enumerate(keys)}, step=step)
        t1 = time.perf_counter()
        run.end()
        t2 = time.perf_counter()
        assert len(fresh_history(run.id, "m7")) == N_VALUES // N_KEYS
        calls = N_VALUES // N_KEYS
        return {"per_call_s": (t1 - t0) / calls, "per_value_s": (t1 - t0) / N_VALUES,
                "end_s": t2 - t1, "total_s": t2 - t0}

    def runs() -> dict[str, float]:
        t0 = time.perf_counter()
        for i in range(N_RUNS):
            yard.run(f"r{i}").end()
        return {"per_run_s": (time.perf_counter() - t0) / N_RUNS}

    def sustained() -> dict[str, float]:
        run = yard.run("sustained")
        t0 = time.perf_counter()
        for i in range(N_SUSTAINED):
            run.log_metric("loss", i * 0.5)
        t1 = time.perf_counter()
        run.end()
        t2 = time.perf_counter()
        assert len(fresh_history(run.id, "loss")) == N_SUSTAINED
        return {"per_call_s": (t1 - t0) / N_SUSTAINED, "end_s": t2 - t1, "total_s": t2 - t0}

    result = _rounds({"single": single, "batch": batch, "runs": runs,
                      "sustained": sustained}, repeat)
    yard.close()
    return {"side": "modelyard", "version": modelyard.__version__, **result}


# -- MLflow ---------------------------------------------------------------------------------


def bench_mlflow(workdir: Path, repeat: int) -> dict[str, Any]:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import logging

    import mlflow
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    workdir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    with mlflow.start_run(run_name="warm-up"):
        mlflow.log_metric("x", 1.0)

    def fresh_history(run_id: str, key: str) -> list[float]:
        return [m.value for m in sorted(MlflowClient(uri).get_metric_history(run_id, key),
                                        key=lambda m: m.step)]

    def single(synchronous: bool = True) -> dict[str, float]:
        run = mlflow.start_run(run_name="single")
        t0 = time.perf_counter()
        for i in range(N_VALUES):
            if synchronous:
                mlflow.log_metric("loss", i * 0.5, step=i)
            else:
                mlflow.log_metric("loss", i * 0.5, step=i, synchronous=False)
        t1 = time.perf_counter()
        mlflow.end_run()
        t2 = time.perf_counter()
        assert fresh_history(run.info.run_id, "loss") == [i * 0.5 for i in range(N_VALUES)]
        return {"per_call_s": (t1 - t0) / N_VALUES, "end_s": t2 - t1, "total_s": t2 - t0}

    def batch() -> dict[str, float]:
        run = mlflow.start_run(run_name="batch")
        keys = [f"m{k}" for k in range(N_KEYS)]
        t0 = time.perf_counter()
        for step in range(N_VALUES // N_KEYS):
            mlflow.log_metrics({k: step + j / 1000 for j, k in enumerate(keys)}, step=step)
        t1 = time.perf_counter()
        mlflow.end_run()
        t2 = time.perf_counter()
        assert len(fresh_history(run.info.run_id, "m7")) == N_VALUES // N_KEYS
        calls = N_VALUES // N_KEYS
        return {"per_call_s": (t1 - t0) / calls, "per_value_s": (t1 - t0) / N_VALUES,
                "end_s": t2 - t1, "total_s": t2 - t0}

    def runs() -> dict[str, float]:
        t0 = time.perf_counter()
        for i in range(N_RUNS):
            mlflow.start_run(run_name=f"r{i}")
            mlflow.end_run()
        return {"per_run_s": (time.perf_counter() - t0) / N_RUNS}

    result = _rounds({"single": single, "batch": batch, "runs": runs,
                      "single_async": lambda: single(synchronous=False)}, repeat)
    return {"side": "mlflow", "version": mlflow.__version__, **result}


def _rounds(cases: dict[str, Callable[[], dict[str, float]]], repeat: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            samples[name].append(case())
    return {"repeat": repeat, "cases": {name: _median(s) for name, s in samples.items()},
            "durable": True, "python": platform.python_version()}


# -- report ---------------------------------------------------------------------------------


def _machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "os": platform.platform(),
            "python": platform.python_version()}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def report(paths: list[Path], markdown: Path | None) -> str:
    sides = {json.loads(p.read_text())["side"]: json.loads(p.read_text()) for p in paths}
    ours, theirs = sides["modelyard"]["cases"], sides["mlflow"]["cases"]
    rows = [
        ("one `log_metric` call (2,000 calls)", "single", "per_call_s"),
        ("2,000 single calls + end of run (all durable)", "single", "total_s"),
        ("end of run after 2,000 single calls", "single", "end_s"),
        ("one `log_metrics` call of 100 keys (20 calls)", "batch", "per_call_s"),
        ("per value in batches of 100", "batch", "per_value_s"),
        ("20 batch calls + end of run (all durable)", "batch", "total_s"),
        ("start + end one run (100 runs)", "runs", "per_run_s"),
    ]
    lines = [
        "| operation | modelyard | MLflow (SQLite) | MLflow ÷ modelyard |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, case, key in rows:
        a, b = ours[case][key], theirs[case][key]
        lines.append(f"| {label} | {_us(a)} | {_us(b)} | {b / a:,.1f}x |")
    if "single_async" in theirs:
        a = ours["single"]["per_call_s"]
        b = theirs["single_async"]["per_call_s"]
        lines.append(f"| one `log_metric` call, MLflow `synchronous=False` | {_us(a)} | "
                     f"{_us(b)} | {b / a:,.1f}x |")
        a, b = ours["single"]["total_s"], theirs["single_async"]["total_s"]
        lines.append(f"| 2,000 calls + end of run, MLflow `synchronous=False` | {_us(a)} | "
                     f"{_us(b)} | {b / a:,.1f}x |")
    if "sustained" in ours:
        sus = ours["sustained"]
        lines.append(f"| one `log_metric` call, 200,000 calls with the writer flushing "
                     f"meanwhile (modelyard only) | {_us(sus['per_call_s'])} | | |")
        lines.append(f"| 200,000 calls + end of run (modelyard only) | {_us(sus['total_s'])} "
                     "| | |")
    table = "\n".join(lines)
    machine = _machine()
    ratio = theirs["single"]["per_call_s"] / ours["single"]["per_call_s"]
    verdict = "met" if ratio >= 100 else "NOT met"
    text = f"""# Benchmarks

Produced by `bash benchmarks/run.sh` (do not edit by hand; rerun it).

## Tracking: modelyard vs MLflow, both on SQLite

- date: {datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
- machine: {machine["nproc"]} CPUs, {machine["cpu"]}, {machine["os"]}
- Python {machine["python"]}; modelyard {sides["modelyard"]["version"]}; MLflow \
{sides["mlflow"]["version"]} (`mlflow.set_tracking_uri("sqlite:///...")`, fluent API)
- median of {sides["modelyard"]["repeat"]} rounds, each in a fresh run; both sides with the
  SQLite file on the same local disk, run one after the other in the same invocation
- durability: after each run ended, every value was read back through a fresh client
  (a new `Yard`, a new `MlflowClient`) and compared: {"all present" if all(
        s["durable"] for s in sides.values()) else "MISSING VALUES"}

{table}

Target: one `log_metric` call at least 100x faster than MLflow-on-SQLite — **{verdict}**
({ratio:,.0f}x).

How to read it: modelyard's `log_metric` appends to an in-memory buffer and a background
thread writes batches (every `metric_flush_interval_s`, default 1 s, or at
`metric_flush_max_rows`), so a call costs microseconds and training is never held up by
the database; `end()` writes what is left synchronously, so "calls + end of run" is the
honest time until every value is durable. MLflow's default (synchronous) logging commits one
transaction per call. MLflow's optional `synchronous=False` mode also queues values, but
pays for a future object per call.
"""
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for side in ("modelyard", "mlflow"):
        p = sub.add_parser(side)
        p.add_argument("--workdir", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--repeat", type=int, default=3)
    p = sub.add_parser("report")
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    if args.command == "report":
        print(report(args.results, args.markdown))
        return 0
    bench = bench_modelyard if args.command == "modelyard" else bench_mlflow
    result = bench(args.workdir, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["cases"], indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
