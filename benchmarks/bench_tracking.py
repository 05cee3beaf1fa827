"""Tracking benchmark: modelyard against MLflow, both on a SQLite file.

Each side runs in its own interpreter (MLflow in ``benchmarks/.venv-mlflow``, modelyard in the
project's ``.venv``), so this file imports neither at the top. ``benchmarks/run.sh`` runs::

    python bench_tracking.py modelyard --workdir DIR --out results/tracking-modelyard.json
    python bench_tracking.py mlflow    --workdir DIR --out results/tracking-mlflow.json
    python bench_tracking.py report results/tracking-*.json --markdown docs/BENCHMARKS.md

Measured in ``--repeat`` rounds (at least 3), each case in a fresh run; the report gives
the median (min-max):

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
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import fmt, replace_section, summary, verdict

N_VALUES = 2000
N_KEYS = 100
N_RUNS = 100
N_SUSTAINED = 200_000  # modelyard only: long enough for the writer to flush meanwhile


class NotDurable(Exception):
    """A value logged in a round was not read back by a fresh client."""


def _durable(ok: bool) -> None:
    if not ok:
        raise NotDurable("values logged were missing when read back by a fresh client")


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
        _durable(fresh_history(run.id, "loss") == [i * 0.5 for i in range(N_VALUES)])
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
        _durable(len(fresh_history(run.id, "m7")) == N_VALUES // N_KEYS)
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
        _durable(len(fresh_history(run.id, "loss")) == N_SUSTAINED)
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
        _durable(fresh_history(run.info.run_id, "loss") == [i * 0.5 for i in range(N_VALUES)])
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
        _durable(len(fresh_history(run.info.run_id, "m7")) == N_VALUES // N_KEYS)
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
    """Every case ``repeat`` times, in rounds; a round that raises (values not durable, an
    error) is kept as ``{"failed": reason}``."""
    from _report import machine

    started = machine()
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            try:
                samples[name].append(case())
            except Exception as exc:  # a round that fails is reported as failed
                samples[name].append({"failed": f"{type(exc).__name__}: {exc}"})
    return {"repeat": repeat, "samples": samples, "machine": started,
            "machine_after": machine(), "python": platform.python_version()}


# -- report ---------------------------------------------------------------------------------


def _us(seconds: float) -> str:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return fmt(seconds)
    return f"{fmt(seconds * 1e6)} µs" if seconds < 1e-3 else f"{fmt(seconds * 1e3)} ms"


def _spread_s(s: dict[str, Any]) -> str:
    """Seconds as median (min-max) in µs or ms."""
    if s["n"] <= 1 or s["min"] != s["min"]:
        return _us(s["median"])
    scale, unit = (1e6, " µs") if s["median"] < 1e-3 else (1e3, " ms")
    return (f"{fmt(s['median'] * scale)}{unit} ({fmt(s['min'] * scale)}"
            f"\u2013{fmt(s['max'] * scale)})")


def _case(side: dict[str, Any], case: str, key: str) -> dict[str, Any]:
    """One figure over the rounds; a failed round counts as failed (infinitely slow)."""
    return summary(None if "failed" in r else r[key] for r in side["samples"][case])


def _ratio(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """MLflow's median over modelyard's, with the widest range the rounds allow."""
    if ours["failed"] or theirs["failed"]:
        return "n/a (a round failed)"
    ratio = theirs["median"] / ours["median"]
    return (f"{fmt(ratio)}x ({fmt(theirs['min'] / ours['max'])}"
            f"\u2013{fmt(theirs['max'] / ours['min'])})")


ROWS = (
    ("one `log_metric` call (2,000 calls)", "single", "per_call_s"),
    ("2,000 single calls + end of run (all durable)", "single", "total_s"),
    ("end of run after 2,000 single calls", "single", "end_s"),
    ("one `log_metrics` call of 100 keys (20 calls)", "batch", "per_call_s"),
    ("per value in batches of 100", "batch", "per_value_s"),
    ("20 batch calls + end of run (all durable)", "batch", "total_s"),
    ("start + end one run (100 runs)", "runs", "per_run_s"),
)
SECTION = "## Tracking: modelyard vs MLflow, both on SQLite"


def report(paths: list[Path], markdown: Path | None) -> str:
    sides = {json.loads(p.read_text())["side"]: json.loads(p.read_text()) for p in paths}
    ours, theirs = sides["modelyard"], sides["mlflow"]
    lines = [
        "| operation | modelyard | MLflow (SQLite) | MLflow ÷ modelyard |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, case, key in ROWS:
        a, b = _case(ours, case, key), _case(theirs, case, key)
        lines.append(f"| {label} | {_spread_s(a)} | {_spread_s(b)} | {_ratio(a, b)} |")
    if "single_async" in theirs["samples"]:
        for label, key in (("one `log_metric` call", "per_call_s"),
                           ("2,000 calls + end of run", "total_s")):
            a, b = _case(ours, "single", key), _case(theirs, "single_async", key)
            lines.append(f"| {label}, MLflow `synchronous=False` | {_spread_s(a)} | "
                         f"{_spread_s(b)} | {_ratio(a, b)} |")
    if "sustained" in ours["samples"]:
        lines.append("| one `log_metric` call, 200,000 calls with the writer flushing "
                     f"meanwhile (modelyard only) | "
                     f"{_spread_s(_case(ours, 'sustained', 'per_call_s'))} | | |")
        lines.append("| 200,000 calls + end of run (modelyard only) | "
                     f"{_spread_s(_case(ours, 'sustained', 'total_s'))} | | |")
    table = "\n".join(lines)
    failed = [f"- {side}, {case}, round {i + 1}: {r['failed']}"
              for side, d in sides.items() for case, rounds in d["samples"].items()
              for i, r in enumerate(rounds) if "failed" in r]
    a, b = _case(ours, "single", "per_call_s"), _case(theirs, "single", "per_call_s")
    ratio = b["median"] / a["median"] if not (a["failed"] or b["failed"]) else float("nan")
    m = ours["machine"]
    durable = ("every round's values were all present" if not failed
               else f"**{len(failed)} round(s) failed**")

    def load(d: dict[str, Any], key: str) -> str:
        return d[key]["uptime"].split("load average:")[-1].strip()

    text = f"""{SECTION}

- date: {m["date"]} (modelyard), {theirs["machine"]["date"]} (MLflow), one invocation of \
`bash benchmarks/run.sh tracking`
- machine: {m["cpus"]} of {m["cpu_count"]} cores usable, {_cpu()}, {m["platform"]}; load \
(`uptime`: its 1, 5 and 15 minute load averages; anything else running shared the \
cores): modelyard `{load(ours, "machine")}` to \
`{load(ours, "machine_after")}`, MLflow `{load(theirs, "machine")}` to \
`{load(theirs, "machine_after")}`
- Python {ours["python"]}; modelyard {ours["version"]}; MLflow {theirs["version"]} \
(`mlflow.set_tracking_uri("sqlite:///...")`, fluent API)
- {ours["repeat"]} rounds per side (MLflow {theirs["repeat"]}), each case in a fresh run; \
figures are the median (min-max) of the rounds; the ratio is MLflow's median over \
modelyard's, in brackets MLflow's fastest round over modelyard's slowest to its slowest over \
modelyard's fastest. Both sides with the SQLite file on the same local disk, one after the \
other in the same invocation
- durability: after each run ended, every value was read back through a fresh client \
(a new `Yard`, a new `MlflowClient`) and compared; a round whose values were not all there \
counts as failed: {durable}

{table}

Target: one `log_metric` call at least 100x faster than MLflow-on-SQLite (median over \
median): {verdict(ratio, 100, higher_is_better=True)} ({fmt(ratio)}x).
""" + ("\nFailed rounds:\n\n" + "\n".join(failed) + "\n" if failed else "") + """
How to read it: modelyard's `log_metric` appends to an in-memory buffer and a background
thread writes batches (every `metric_flush_interval_s`, default 1 s, or at
`metric_flush_max_rows`), so a call costs microseconds and training is never held up by
the database; `end()` writes what is left synchronously, so "calls + end of run" is the
honest time until every value is durable. MLflow's default (synchronous) logging commits one
transaction per call. MLflow's optional `synchronous=False` mode also queues values, but
pays for a future object per call.
"""
    if markdown is not None:
        replace_section(markdown, SECTION, text)
    return text


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


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
    if args.repeat < 3:
        parser.error("--repeat is at least 3 (each side measured at least 3 times)")
    bench = bench_modelyard if args.command == "modelyard" else bench_mlflow
    result = bench(args.workdir, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["samples"], indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
