"""One-row latency of the same model stored as skops and as ONNX, in process and over HTTP.

Models: logistic regression (StandardScaler + LogisticRegression) and gradient boosting
(HistGradientBoostingClassifier) on the 30-feature breast-cancer data; the images recipe's
CNN on 8x8 digits where torch is installed (fitted with torch, stored by skops with its NumPy
forward pass, and as ONNX). Each is registered twice in a throw-away project and served
by one ``modelyard serve`` process on 127.0.0.1. For each repetition: ``--requests`` one-row
``predict_proba`` calls in process, then as many sequential one-record POSTs; the figure of a
repetition is its median; the report gives median/min/max over ``--repeat`` repetitions,
and with ``--doc`` writes its section of that Markdown file from the run's own data::

    python benchmarks/bench_formats.py --repeat 3 --requests 300 --out formats.json \
        --doc docs/benchmarks/formats.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _report import fmt, machine, replace_section, spread, summary

import modelyard
from _serving import Server, cancer_frame

SECTION = "## One-row latency: skops against ONNX"
_NAMES = {"logreg": "logistic regression (scaled)", "hgb": "HistGradientBoosting, 100 trees",
          "cnn": "the images recipe's CNN (8x8 digits)"}


def _models() -> list[tuple[str, Any, Any]]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = cancer_frame()
    out = [("logreg", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            .fit(X, y), X),
           ("hgb", HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X, y), X)]
    if importlib.util.find_spec("torch") is not None:
        from modelyard.recipes._images_cnn import ConvNetClassifier
        from modelyard.recipes._images_data import image_frame, load_digits_split

        parts = load_digits_split()
        net = ConvNetClassifier(side=8, kernel=3, epochs=10).fit(*parts["train"])
        out.append(("cnn", net, image_frame(parts["test"][0])))
    return out


def _summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(values), "min_ms": min(values),
            "max_ms": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--doc", type=Path, default=None,
                        help="write the report's section into this Markdown file")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "started": machine(),
        "date": datetime.date.today().isoformat(), "machine": platform.platform(),
        "python": platform.python_version(), "processor": platform.processor(),
        "repeat": args.repeat, "requests": args.requests, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        refs: list[tuple[str, str, str, Any]] = []
        with modelyard.open(project) as yard:
            for name, model, X in _models():
                for fmt in ("skops", "onnx"):
                    try:
                        v = yard.models.register(name, model, input_example=X.head(5),
                                                 format=fmt)
                    except modelyard.errors.InvalidInput as exc:
                        results["models"].setdefault(name, {})[fmt] = {"error": str(exc)}
                        continue
                    refs.append((name, fmt, v.ref, X))
        with modelyard.open(project) as yard:
            predictors = {ref: yard.models.load(ref) for _, _, ref, _ in refs}
        with Server(project, [ref for _, _, ref, _ in refs]) as server, httpx.Client() as client:
            for name, fmt, ref, X in refs:
                row = X.iloc[[0]]
                record = {k: float(v) for k, v in row.iloc[0].items()}
                url = f"{server.url}/v1/models/{ref}/predict"
                local, http = [], []
                for _ in range(args.repeat):
                    times = []
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        predictors[ref].predict_proba(row)
                        times.append((time.perf_counter() - started) * 1000)
                    local.append(statistics.median(times))
                    times = []
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        answer = client.post(url, json=record)
                        times.append((time.perf_counter() - started) * 1000)
                        assert answer.status_code == 200, answer.text
                    http.append(statistics.median(times))
                results["models"].setdefault(name, {})[fmt] = {
                    "in_process": _summary(local), "http": _summary(http),
                    "in_process_runs": local, "http_runs": http}
                print(name, fmt, "in-process", _summary(local), "http", _summary(http))
    results["ended"] = machine()
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    if args.doc:
        replace_section(args.doc, SECTION, report(results))


def report(results: dict[str, Any]) -> str:
    """The section: one row per model and format, every figure from ``results``."""
    start, end = results["started"], results["ended"]
    lines = [SECTION, "",
             f"`python benchmarks/bench_formats.py --repeat {results['repeat']} --requests "
             f"{results['requests']}` on {start['date']}, {start['cpus']} CPUs "
             f"({start['platform']}, Python {start['python']}); machine load at the start: "
             f"`{start['uptime']}`, at the end: `{end['uptime']}`.", "",
             "Each model is registered in both formats in one project and served by one "
             "`modelyard serve` process on 127.0.0.1. A run times "
             f"{results['requests']} one-row `predict_proba` calls in process, then as many "
             "sequential one-record POSTs; its figure is the median call, and the table "
             f"gives the median (min-max) over {results['repeat']} runs, in ms.", "",
             "| model | format | in process | over HTTP |", "| --- | --- | ---: | ---: |"]
    ratios = []
    for name, formats in results["models"].items():
        for kind, got in formats.items():
            label = _NAMES.get(name, name)
            if "error" in got:
                lines.append(f"| {label} | {kind} | failed: {got['error'][:160]} | |")
                continue
            local = summary(got.get("in_process_runs") or [got["in_process"]["median_ms"]])
            http = summary(got.get("http_runs") or [got["http"]["median_ms"]])
            lines.append(f"| {label} | {kind} | {spread(local)} | {spread(http)} |")
        if all("error" not in formats.get(k, {"error": ""}) for k in ("skops", "onnx")):
            skops, onnx = formats["skops"], formats["onnx"]
            ratios.append(
                f"{_NAMES.get(name, name)}: ONNX answers in "
                f"{fmt(onnx['in_process']['median_ms'] / skops['in_process']['median_ms'])}x "
                f"skops's time in process and "
                f"{fmt(onnx['http']['median_ms'] / skops['http']['median_ms'])}x over HTTP")
    if ratios:
        lines += ["", "Medians compared: " + "; ".join(ratios) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
