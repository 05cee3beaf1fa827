"""How long the CLI takes as a whole process: ``modelyard --help`` and ``modelyard runs list``
against MLflow's ``mlflow --help`` and ``mlflow runs list``, over the same runs.

Both stores hold the same ``--runs`` runs (one experiment, each with 5 params and 5 metrics)
in SQLite: modelyard's in a project folder, MLflow's in ``sqlite:///mlflow.db`` (filled
through ``MlflowClient`` in MLflow's own environment). Each command is run as a fresh process
(``python -m modelyard ...`` and MLflow's ``mlflow`` script, the way a user types them),
``--rounds`` times after one warm-up each, the sides interleaved, and timed by wall clock
from start to exit; the process's own CPU time (user + system, from ``os.wait4``) is kept
too, as it depends much less on other work on the machine. Target (issue 11): ``--help``
and ``runs list`` each under 0.5 s (median, wall clock).

    python benchmarks/bench_cli.py --mlflow-python benchmarks/.venv-mlflow/bin/python \\
        --out benchmarks/results/cli.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, replace_section, spread, summary, verdict

SECTION = "## CLI: a command as a whole process, modelyard vs MLflow"
TARGET_S = 0.5

_FILL_MLFLOW = """
import sys, mlflow
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
exp = client.create_experiment("bench")
for i in range(int(sys.argv[2])):
    run = client.create_run(exp, run_name=f"run-{i}")
    rid = run.info.run_id
    client.log_batch(rid, params=[mlflow.entities.Param(f"p{j}", str(i + j)) for j in range(5)],
                     metrics=[mlflow.entities.Metric(f"m{j}", (i + j) / 7, 0, 0)
                              for j in range(5)])
    client.set_terminated(rid)
print(exp)
"""


def _fill_modelyard(project: Path, runs: int) -> None:
    import modelyard

    with modelyard.open(project) as yard:
        for i in range(runs):
            with yard.runs.start(experiment="bench", name=f"run-{i}") as run:
                run.log_params({f"p{j}": i + j for j in range(5)})
                run.log_metrics({f"m{j}": (i + j) / 7 for j in range(5)})


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float] | None:
    """(wall seconds, CPU seconds) of one process, or ``None`` when it failed."""
    with tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-500:]
            print(f"failed: {' '.join(argv)}: {tail}", file=sys.stderr)
            return None
    return wall, usage.ru_utime + usage.ru_stime


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    project = work / "project"
    _fill_modelyard(project, args.runs)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    experiment = subprocess.run([args.mlflow_python, "-c", _FILL_MLFLOW, uri, str(args.runs)],
                                capture_output=True, text=True, check=True,
                                timeout=1800).stdout.strip().splitlines()[-1]
    mlflow = str(Path(args.mlflow_python).absolute().with_name("mlflow"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = uri
    ours = [sys.executable, "-m", "modelyard"]
    commands = {
        "--help": {"modelyard": [*ours, "--help"], "MLflow": [mlflow, "--help"]},
        "runs list": {"modelyard": [*ours, "runs", "list", "--experiment", "bench"],
                      "MLflow": [mlflow, "runs", "list", "--experiment-id", experiment]},
    }
    found: dict[str, dict[str, dict[str, list[float | None]]]] = {
        c: {side: {"wall": [], "cpu": []} for side in sides} for c, sides in commands.items()}
    report: dict[str, Any] = {"machine_start": machine(), "runs": args.runs,
                              "rounds": args.rounds}
    for command, sides in commands.items():
        for argv in sides.values():
            _timed(argv, project, env)  # warm-up: the page cache, .pyc files
        for i in range(args.rounds):
            order = list(sides.items())
            for side, argv in order if i % 2 == 0 else reversed(order):
                got = _timed(argv, project, env)
                found[command][side]["wall"].append(None if got is None else got[0])
                found[command][side]["cpu"].append(None if got is None else got[1])
    report["results"] = {c: {side: {k: summary(v) for k, v in m.items()}
                             for side, m in sides.items()} for c, sides in found.items()}
    report["machine_end"] = machine()
    report["versions"] = _versions(args.mlflow_python)
    return report


def _versions(mlflow_python: str) -> dict[str, str]:
    from importlib.metadata import version

    theirs = subprocess.run([mlflow_python, "-c", "import mlflow; print(mlflow.__version__)"],
                            capture_output=True, text=True, timeout=120).stdout.strip()
    return {"modelyard": version("modelyard"), "typer": version("typer"), "mlflow": theirs}


def markdown(report: dict[str, Any]) -> str:
    start, end = report["machine_start"], report["machine_end"]
    v = report["versions"]
    lines = [SECTION, "",
             f"Written by `benchmarks/bench_cli.py` on {start['date']}. Machine: "
             f"{start['cpus']} of {start['cpu_count']} cores usable, {start['platform']}, "
             f"Python {start['python']}; load at the start `{start['uptime']}`, at the end "
             f"`{end['uptime']}`.", "",
             f"Versions: modelyard {v['modelyard']} (typer {v['typer']}), MLflow {v['mlflow']}.",
             "",
             f"Each command is a fresh process over {report['runs']:,} runs in SQLite (the "
             f"same runs in both stores), {report['rounds']} rounds after one warm-up each, "
             "the sides alternating; wall clock from start to exit, and the process's CPU "
             "time; median (min-max) in seconds.", "",
             "| command | modelyard wall s | MLflow wall s | modelyard CPU s | MLflow CPU s | "
             f"modelyard under {TARGET_S} s |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    verdicts = []
    for command, sides in report["results"].items():
        ours, theirs = sides["modelyard"], sides["MLflow"]
        ok = verdict(ours["wall"]["median"], TARGET_S, higher_is_better=False)
        verdicts.append(f"`{command}` {ok}")
        lines.append(f"| `{command}` | {spread(ours['wall'])} | {spread(theirs['wall'])} | "
                     f"{spread(ours['cpu'])} | {spread(theirs['cpu'])} | {ok} |")
    lines += ["", f"Target, each command under {TARGET_S} s as a whole process (median wall "
                  "clock): " + "; ".join(verdicts) + ".", "",
              "Reproduce: `.venv/bin/python benchmarks/bench_cli.py --mlflow-python "
              "benchmarks/.venv-mlflow/bin/python --out benchmarks/results/cli.json "
              "--markdown docs/BENCHMARKS.md` (`bash benchmarks/run.sh cli` makes MLflow's "
              "environment when it is missing)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-python", required=True)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cli.json"))
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    text = markdown(report)
    print(text)
    if args.markdown is not None:
        replace_section(args.markdown, SECTION, text)


if __name__ == "__main__":
    main()
