"""Serving benchmark: single-row JSON predictions of one model over HTTP on 127.0.0.1.

The model is a HistGradientBoostingClassifier on scikit-learn's breast-cancer set (30
features, shipped with scikit-learn: nothing is downloaded). One load generator, an asyncio
HTTP/1.1 keep-alive client in its own process, drives every server in turn at each
concurrency; the servers run one at a time, side by side in one invocation:

- modelyard (``modelyard serve``), with the prediction log on and off,
- a minimal hand-written FastAPI endpoint (same uvicorn),
- ``mlflow models serve`` (benchmarks/.venv-mlflow),
- a BentoML service (benchmarks/.venv-bentoml, skipped when missing),
- and in-process ``predict_proba`` for reference.

Usage (``benchmarks/run.sh`` does this)::

    python bench_serving.py run --workdir /tmp/w --out results/serving.json
    python bench_serving.py report results/serving.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Serving: single-row predictions over HTTP"

MINIMAL_APP = '''
import joblib, numpy as np
from fastapi import FastAPI
model = joblib.load({model!r})
COLUMNS = {columns!r}
app = FastAPI()

@app.post("/predict")
def predict(record: dict[str, float]) -> dict:
    X = np.array([[record[c] for c in COLUMNS]])
    proba = model.predict_proba(X)
    return {{"prediction": int(model.classes_[proba[0].argmax()]),
            "probabilities": proba[0].tolist()}}
'''

BENTO_SERVICE = '''
import bentoml, joblib, numpy as np
COLUMNS = {columns!r}

@bentoml.service(workers=1, logging={{"access": {{"enabled": False}}}})
class Cancer:
    def __init__(self) -> None:
        self.model = joblib.load({model!r})

    @bentoml.api
    def predict(self, record: dict[str, float]) -> dict:
        X = np.array([[record[c] for c in COLUMNS]])
        proba = self.model.predict_proba(X)
        return {{"prediction": int(self.model.classes_[proba[0].argmax()]),
                "probabilities": proba[0].tolist()}}
'''

MLFLOW_SAVE = '''
import sys, joblib, mlflow.sklearn
mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], serialization_format="pickle")
'''


# -- the model ----------------------------------------------------------------------------

def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [str(c).replace(" ", "_") for c in X.columns]
    return X, y


def prepare(work: Path) -> dict[str, Any]:
    """Fit the model once; store it for every server."""
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier

    import modelyard

    X, y = _data()
    # fitted on the array, so every server hands it an array (no feature-name checks)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X.to_numpy(), y)
    work.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, work / "model.joblib")
    with modelyard.open(work / "yard") as yard:
        if not yard.models.list():
            v = yard.models.register("cancer", model, input_example=X.head(10))
            yard.models.alias("cancer", "champion", v.version)
    columns = list(X.columns)
    (work / "minimal_app.py").write_text(MINIMAL_APP.format(model=str(work / "model.joblib"),
                                                            columns=columns))
    (work / "bento_service.py").write_text(BENTO_SERVICE.format(
        model=str(work / "model.joblib"), columns=columns))
    record = {c: float(v) for c, v in X.iloc[0].items()}
    return {"record": record, "columns": columns}


def in_process(work: Path) -> dict[str, float]:
    """predict_proba in this process: one row, and per row in batches of 64."""
    import joblib
    import numpy as np

    model = joblib.load(work / "model.joblib")
    X, _ = _data()
    one = X.to_numpy()[:1]
    batch = X.to_numpy()[:64]
    for _ in range(50):
        model.predict_proba(one)
    times = []
    for _ in range(500):
        t = time.perf_counter()
        model.predict_proba(one)
        times.append(time.perf_counter() - t)
    batch_times = []
    for _ in range(200):
        t = time.perf_counter()
        model.predict_proba(batch)
        batch_times.append(time.perf_counter() - t)
    return {"one_row_us": statistics.median(times) * 1e6,
            "per_row_in_64_us": statistics.median(batch_times) / 64 * 1e6,
            "one_row_per_s": 1 / statistics.median(times),
            "rows": float(np.asarray(batch).shape[0])}


def serialisation() -> dict[str, float]:
    """µs to serialise one prediction answer: json + tolist versus orjson on NumPy."""
    import numpy as np

    proba = np.array([[0.97, 0.03]])
    answer: dict[str, Any] = {"model": "cancer", "version": 1, "alias": "champion",
                              "request_id": "8870a5fdbb374bdfbc771407a80426fc",
                              "classes": [0, 1]}

    def timed(fn: Any) -> float:
        t = time.perf_counter()
        for _ in range(20000):
            fn()
        return (time.perf_counter() - t) / 20000 * 1e6

    out = {"json_us": timed(lambda: json.dumps({**answer, "predictions": [0],
                                                "probabilities": proba.tolist()}).encode())}
    try:
        import orjson

        out["orjson_us"] = timed(lambda: orjson.dumps(
            {**answer, "predictions": np.array([0]), "probabilities": proba},
            option=orjson.OPT_SERIALIZE_NUMPY))
    except ImportError:
        pass
    return out


# -- servers --------------------------------------------------------------------------------

def _libs() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("uvicorn", "uvloop", "httptools", "orjson", "fastapi", "scikit-learn"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} absent")
    return ", ".join(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _servers(work: Path, port: int) -> dict[str, dict[str, Any]]:
    py = sys.executable
    mlflow = HERE / ".venv-mlflow" / "bin"
    bento = HERE / ".venv-bentoml" / "bin"
    yard = ["-m", "modelyard", "serve", "cancer@champion", "--port", str(port),
            "--project", str(work / "yard"), "--log-level", "warning"]
    return {
        "modelyard": {"cmd": [py, *yard], "path": "/v1/models/cancer/predict",
                      "body": "record", "ready": "/ready"},
        "modelyard, no prediction log": {
            "cmd": [py, *yard], "env": {"MODELYARD_LOG_PREDICTIONS": "0"},
            "path": "/v1/models/cancer/predict", "body": "record", "ready": "/ready"},
        "modelyard, no batching": {
            "cmd": [py, *yard], "env": {"MODELYARD_MAX_BATCH_SIZE": "1"},
            "path": "/v1/models/cancer/predict", "body": "record", "ready": "/ready"},
        "minimal FastAPI": {
            "cmd": [py, "-m", "uvicorn", "minimal_app:app", "--port", str(port),
                    "--log-level", "warning", "--no-access-log"],
            "path": "/predict", "body": "record"},
        "MLflow": {
            "cmd": [str(mlflow / "mlflow"), "models", "serve", "-m", str(work / "mlflow-model"),
                    "-p", str(port), "-h", "127.0.0.1", "--env-manager", "local"],
            "env": {"PATH": f"{mlflow}{os.pathsep}{os.environ.get('PATH', '')}"},
            "path": "/invocations", "body": "mlflow", "needs": mlflow / "python",
            "ready": "/ping"},
        "BentoML": {
            "cmd": [str(bento / "bentoml"), "serve", "bento_service:Cancer", "--port", str(port),
                    "--host", "127.0.0.1"],
            "env": {"PATH": f"{bento}{os.pathsep}{os.environ.get('PATH', '')}"},
            "path": "/predict", "body": "bento", "needs": bento / "python",
            "ready": "/readyz"},
    }


def _wait_port(port: int, proc: subprocess.Popen[bytes], ready: str | None,
               timeout: float = 90.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if ready is None:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=1):
                return  # 200: every model loaded
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise RuntimeError("server did not get ready in time")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it runs in its own session: server + workers)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
            return
        except subprocess.TimeoutExpired:
            continue


def _body(kind: str, record: dict[str, float]) -> bytes:
    if kind == "mlflow":
        return json.dumps({"dataframe_split": {"columns": list(record),
                                               "data": [list(record.values())]}}).encode()
    if kind == "bento":
        return json.dumps({"record": record}).encode()
    return json.dumps(record).encode()


def _load(port: int, path: str, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "loadgen", "--port", str(port), "--path", path,
         "--concurrency", str(concurrency), "--seconds", str(seconds)],
        input=body, capture_output=True, check=True)
    return dict(json.loads(out.stdout))


def run(work: Path, out: Path, seconds: float, levels: list[int], only: list[str]) -> None:
    """Prepare, then drive each server at each concurrency; write the results as JSON."""
    info = prepare(work)
    mlflow_py = HERE / ".venv-mlflow" / "bin" / "python"
    if mlflow_py.exists() and not (work / "mlflow-model").exists():
        subprocess.run([str(mlflow_py), "-c", MLFLOW_SAVE, str(work / "model.joblib"),
                        str(work / "mlflow-model")], check=True, capture_output=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(), "seconds": seconds, "levels": levels,
        "server_libs": _libs(),
        "in_process": in_process(work), "serialisation": serialisation(), "servers": {}}
    for name, spec in _servers(work, 0).items():
        if only and name not in only:
            continue
        if "needs" in spec and not Path(spec["needs"]).exists():
            results["servers"][name] = {"skipped": f"{spec['needs']} is not installed"}
            continue
        port = _free_port()
        spec = _servers(work, port)[name]
        # One OpenMP/BLAS thread for every server: on a small machine idle OpenMP workers
        # spin and starve the event loop (modelyard sets this itself: predict_threads=1).
        env = {**os.environ, "MODELYARD_SWAP_POLL_INTERVAL_S": "30", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **spec.get("env", {})}
        env.pop("VIRTUAL_ENV", None)
        print(f"== {name}", file=sys.stderr)
        proc = subprocess.Popen(spec["cmd"], cwd=work, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_port(port, proc, spec.get("ready"))
            body = _body(spec["body"], info["record"])
            _load(port, spec["path"], body, 4, 2.0)  # warm up
            levels_out = {}
            for c in levels:
                levels_out[str(c)] = _load(port, spec["path"], body, c, seconds)
                print(f"   c={c}: {levels_out[str(c)]}", file=sys.stderr)
            results["servers"][name] = levels_out
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            results["servers"][name] = {"skipped": f"failed: {exc}"}
        finally:
            _stop(proc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


# -- the load generator (its own process) --------------------------------------------------

async def _client(port: int, request: bytes, stop_at: float, lat: list[float],
                  errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = None
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _loadgen(port: int, path: str, body: bytes, concurrency: int,
                   seconds: float) -> dict[str, Any]:
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    lat: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_client(port, request, stop_at, lat, errors)
                           for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50_ms": q(0.50),
            "p99_ms": q(0.99), "errors": len(errors)}


# -- the report ----------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def report(path: Path, markdown: Path | None) -> str:
    """The results as a Markdown section; replaces (or appends) it in ``markdown``."""
    r = json.loads(path.read_text())
    servers = r["servers"]
    levels = [str(c) for c in r["levels"]]
    lines = [SECTION, "", f"- date: {r['date']}", f"- machine: {r['machine']}",
             f"- Python {r['python']}; each server alone on the machine, one after the other; "
             f"one load generator (asyncio HTTP/1.1 keep-alive client, its own process) for all; "
             f"{r['seconds']:.0f} s per concurrency after a warm-up",
             "- model: HistGradientBoostingClassifier (100 iterations) on scikit-learn's "
             "breast-cancer set, 30 features; one JSON record per request",
             f"- modelyard and the minimal endpoint on: {r.get('server_libs', '?')}; every "
             "server with OMP_NUM_THREADS=1 (idle OpenMP workers otherwise spin on the "
             "cores the event loop needs)", "",
             "| server | " + " | ".join(f"c={c} req/s | c={c} p50 / p99 ms" for c in levels)
             + " |", "| --- |" + " ---: | ---: |" * len(levels)]
    for name, res in servers.items():
        if "skipped" in res:
            lines.append(f"| {name} | skipped: {res['skipped']} |")
            continue
        cells = []
        for c in levels:
            x = res[c]
            err = f" ({x['errors']} errors)" if x["errors"] else ""
            cells += [_fmt(x["rps"]) + err, f"{_fmt(x['p50_ms'])} / {_fmt(x['p99_ms'])}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ip = r["in_process"]
    lines += ["", f"In-process `predict_proba`: {_fmt(ip['one_row_us'])} µs for one row "
              f"({_fmt(ip['one_row_per_s'])} calls/s on one core), "
              f"{_fmt(ip['per_row_in_64_us'])} µs per row in batches of 64."]
    ser = r.get("serialisation", {})
    if "orjson_us" in ser:
        lines.append(f"Serialising one answer: {_fmt(ser['json_us'])} µs with json + tolist, "
                     f"{_fmt(ser['orjson_us'])} µs with orjson on the NumPy arrays.")
    top = r["levels"][-1]
    ours = servers.get("modelyard", {}).get(str(top))
    if ours:
        lines += ["", f"Targets at concurrency {top}:", ""]

        def ratio(name: str, factor: float, what: str) -> None:
            other = servers.get(name, {}).get(str(top))
            if not other:
                lines.append(f"- {what}: not measured ({name} skipped)")
                return
            x = ours["rps"] / other["rps"]
            ok = "met" if x >= factor else "**not met**"
            lines.append(f"- >= {factor:g}x {name}: {x:.1f}x, {ok}")

        ratio("MLflow", 10, ">= 10x MLflow")
        ratio("BentoML", 4, ">= 4x BentoML")
        ratio("minimal FastAPI", 1.5, ">= 1.5x the minimal endpoint")
        minimal = servers.get("minimal FastAPI", {}).get(str(top))
        if minimal:
            ok = "met" if ours["p99_ms"] <= minimal["p99_ms"] else "**not met**"
            lines.append(f"- p99 <= the minimal endpoint's: {_fmt(ours['p99_ms'])} ms vs "
                         f"{_fmt(minimal['p99_ms'])} ms, {ok}")
        nolog = servers.get("modelyard, no prediction log", {}).get(str(top))
        if nolog:
            cost = 1 - ours["rps"] / nolog["rps"]
            ok = "met" if cost <= 0.10 else "**not met**"
            note = " (logging on was faster: within run-to-run noise)" if cost < 0 else ""
            lines.append(f"- prediction logging costs <= 10% of throughput: "
                         f"{cost * 100:.0f}%{note}, {ok}")
        single = servers.get("modelyard, no batching", {}).get(str(top))
        if single:
            lines.append(f"- batching vs one model call per request: "
                         f"{ours['rps'] / single['rps']:.1f}x the throughput")
    lines += ["", "How to read it: modelyard validates each body against the signature "
              "(pydantic-core, from the raw bytes), gathers concurrent requests into one "
              "`predict_proba` call per batch (in its own thread, so the event loop keeps "
              "reading requests meanwhile) and appends every prediction to the Parquet "
              "prediction log from a background thread. The load generator shares the "
              "machine's cores with each server; repeated runs on this 2-core machine vary "
              "by about 15% at c=32. The minimal endpoint is a plain `def` route (FastAPI "
              "runs it in its thread pool), one `predict_proba` per request.", ""]
    text = "\n".join(lines)
    if markdown is not None:
        old = markdown.read_text() if markdown.exists() else "# Benchmarks\n"
        if SECTION in old:
            head, _, rest = old.partition(SECTION)
            nxt = rest.find("\n## ")
            old = head.rstrip() + "\n" + ("" if nxt < 0 else rest[nxt:])
        markdown.write_text(old.rstrip() + "\n\n" + text)
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--seconds", type=float, default=8.0)
    r.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    r.add_argument("--only", nargs="*", default=[])
    g = sub.add_parser("loadgen")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--path", required=True)
    g.add_argument("--concurrency", type=int, required=True)
    g.add_argument("--seconds", type=float, required=True)
    rep = sub.add_parser("report")
    rep.add_argument("results", type=Path)
    rep.add_argument("--markdown", type=Path)
    args = p.parse_args()
    if args.command == "run":
        run(args.workdir, args.out, args.seconds, args.levels, args.only)
    elif args.command == "loadgen":
        body = sys.stdin.buffer.read()
        coro = _loadgen(args.port, args.path, body, args.concurrency, args.seconds)
        try:
            import uvloop

            print(json.dumps(uvloop.run(coro)))
        except ImportError:
            print(json.dumps(asyncio.run(coro)))
    else:
        print(report(args.results, args.markdown))


if __name__ == "__main__":
    main()
