"""Serving benchmark: single-row JSON predictions of one model over HTTP on 127.0.0.1.

The model is a HistGradientBoostingClassifier on scikit-learn's breast-cancer set (30
features, shipped with scikit-learn: nothing is downloaded). One load generator, an asyncio
HTTP/1.1 keep-alive client in its own process, drives every server in turn at each
concurrency. Every server runs ``--repeat`` times (3 by default) in one invocation, in
rounds (round 1: every server once, then round 2 ...), so slow drift in the machine's load
spreads over all of them; the report gives each figure as median (min-max):

- modelyard (``modelyard serve``), as shipped, without the prediction log, and without
  batching;
- the peers as their users run them at load: ``mlflow models serve`` (benchmarks/
  .venv-mlflow), a BentoML service with adaptive batching (``batchable=True``) and the same
  without it (benchmarks/.venv-bentoml); a minimal hand-written FastAPI endpoint;
- the floors: a raw ASGI app answering a constant on the same uvicorn stack (the HTTP limit
  of one process), and in-process ``predict_proba`` on one row and in batches (the compute
  limit). Their combination is the most any one-process server could answer; modelyard's
  throughput is reported as a share of it.
- modelyard with the version stored as ONNX (``format="onnx"``: ONNX Runtime predicts), and
  modelyard with ``--workers 2``.

Where the machine has two cores or more and ``taskset`` exists, every one-process server is
pinned to core 0 and the client to core 1; the two-worker server and its client share every
core. The client is ``wrk`` (one thread, a Lua script posting the body) where it is
installed, else the asyncio client below.

Usage (``benchmarks/run.sh`` does this)::

    python bench_serving.py run --workdir /tmp/w --out results/serving.json --repeat 3
    python bench_serving.py report results/serving.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
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

from _report import fmt, machine, replace_section, spread, summary, verdict

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Serving: single-row predictions over HTTP"
BATCH_SIZES = (1, 8, 32, 64)

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

# The HTTP floor: no parsing, no model; what one uvicorn process answers at most.
RAW_APP = '''
BODY = b'{{"prediction":0,"probabilities":[0.03,0.97]}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({{"type": "http.response.start", "status": 200, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": BODY}})
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


# BentoML's answer to many small concurrent requests: adaptive batching. Requests of one
# row each are merged along axis 0 into one predict_proba call.
@bentoml.service(workers=1, logging={{"access": {{"enabled": False}}}})
class CancerBatched:
    def __init__(self) -> None:
        self.model = joblib.load({model!r})

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=64, max_latency_ms=100)
    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(rows)
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
    onnx_error = None
    with modelyard.open(work / "yard") as yard:
        if not yard.models.list():
            v = yard.models.register("cancer", model, input_example=X.head(10))
            yard.models.alias("cancer", "champion", v.version)
            # the same model stored as ONNX, served by ONNX Runtime: a per-version choice
            try:
                o = yard.models.register("cancer", model, input_example=X.head(10),
                                         format="onnx")
                yard.models.alias("cancer", "onnx", o.version)
            except Exception as exc:  # reported as the ONNX row's failure
                onnx_error = f"format='onnx' refused the model: {type(exc).__name__}: " \
                             + str(exc).splitlines()[0][:200]
    columns = list(X.columns)
    model_path = str(work / "model.joblib")
    (work / "minimal_app.py").write_text(MINIMAL_APP.format(model=model_path, columns=columns))
    (work / "raw_app.py").write_text(RAW_APP.format())
    (work / "bento_service.py").write_text(BENTO_SERVICE.format(model=model_path,
                                                                columns=columns))
    record = {c: float(v) for c, v in X.iloc[0].items()}
    return {"record": record, "columns": columns, "onnx_error": onnx_error}


def in_process(work: Path) -> dict[str, Any]:
    """predict_proba in this process: CPU µs per row at each batch size (median of many
    calls)."""
    import joblib

    model = joblib.load(work / "model.joblib")
    X, _ = _data()
    rows = X.to_numpy()
    out: dict[str, Any] = {}
    for size in BATCH_SIZES:
        batch = rows[:size]
        for _ in range(30):
            model.predict_proba(batch)
        times = []
        for _ in range(300 if size == 1 else 100):
            # CPU time of this thread: on a shared machine, waiting for the core is not
            # the model's cost (the limit gets higher, modelyard's share of it lower)
            t = time.thread_time()
            model.predict_proba(batch)
            times.append(time.thread_time() - t)
        out[str(size)] = statistics.median(times) / size * 1e6
    return out


def _in_process_pinned(work: Path) -> dict[str, Any]:
    """:func:`in_process` in a process of its own, on the servers' core with one OpenMP
    thread, as the servers run (in this process OpenMP would use every core)."""
    pins = _pinning()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    done = subprocess.run([*(pins[0] if pins else []), sys.executable, __file__, "floor",
                           "--workdir", str(work)], capture_output=True, text=True, check=True,
                          env=env)
    return dict(json.loads(done.stdout))


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

def _libs(python: str) -> dict[str, str]:
    """The versions of the serving stack in the environment of ``python``."""
    code = ("import json\nfrom importlib.metadata import version, PackageNotFoundError\n"
            "out = {}\nfor n in ('uvicorn', 'uvloop', 'httptools', 'orjson', 'fastapi', "
            "'scikit-learn', 'mlflow', 'bentoml'):\n    try:\n        out[n] = version(n)\n"
            "    except PackageNotFoundError:\n        pass\nprint(json.dumps(out))")
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {}
    return dict(json.loads(done.stdout))


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
    uvicorn = [py, "-m", "uvicorn", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]
    bento_env = {"PATH": f"{bento}{os.pathsep}{os.environ.get('PATH', '')}",
                 "BENTOML_DO_NOT_TRACK": "True"}
    onnx = [*yard[:3], "cancer@onnx", *yard[4:]]
    return {
        "modelyard": {"cmd": [py, *yard], "path": "/v1/models/cancer/predict",
                      "body": "record", "ready": "/ready", "kind": "ours"},
        "modelyard, ONNX Runtime version": {
            "cmd": [py, *onnx], "path": "/v1/models/cancer@onnx/predict", "body": "record",
            "ready": "/ready", "kind": "ours"},
        "modelyard, 2 workers": {
            "cmd": [py, *yard, "--workers", "2"], "path": "/v1/models/cancer/predict",
            "body": "record", "ready": "/ready", "kind": "ours", "cores": "all"},
        "modelyard, no prediction log": {
            "cmd": [py, *yard], "env": {"MODELYARD_LOG_PREDICTIONS": "0"},
            "path": "/v1/models/cancer/predict", "body": "record", "ready": "/ready",
            "kind": "ours"},
        "modelyard, no batching": {
            "cmd": [py, *yard], "env": {"MODELYARD_MAX_BATCH_SIZE": "1"},
            "path": "/v1/models/cancer/predict", "body": "record", "ready": "/ready",
            "kind": "ours"},
        "raw ASGI, constant answer (HTTP floor)": {
            "cmd": [*uvicorn, "raw_app:app"], "path": "/predict", "body": "record",
            "kind": "floor"},
        "minimal FastAPI": {"cmd": [*uvicorn, "minimal_app:app"], "path": "/predict",
                            "body": "record", "kind": "peer"},
        "MLflow": {
            "cmd": [str(mlflow / "mlflow"), "models", "serve", "-m", str(work / "mlflow-model"),
                    "-p", str(port), "-h", "127.0.0.1", "--env-manager", "local"],
            "env": {"PATH": f"{mlflow}{os.pathsep}{os.environ.get('PATH', '')}"},
            "path": "/invocations", "body": "mlflow", "needs": mlflow / "python",
            "ready": "/ping", "kind": "peer"},
        "BentoML, adaptive batching": {
            "cmd": [str(bento / "bentoml"), "serve", "bento_service:CancerBatched", "--port",
                    str(port), "--host", "127.0.0.1"],
            "env": bento_env, "path": "/predict", "body": "bento-rows",
            "needs": bento / "python", "ready": "/readyz", "kind": "peer"},
        "BentoML, no batching": {
            "cmd": [str(bento / "bentoml"), "serve", "bento_service:Cancer", "--port", str(port),
                    "--host", "127.0.0.1"],
            "env": bento_env, "path": "/predict", "body": "bento", "needs": bento / "python",
            "ready": "/readyz", "kind": "peer"},
    }


def _wait_port(port: int, proc: subprocess.Popen[bytes], ready: str | None,
               timeout: float = 120.0) -> None:
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
    if kind == "bento-rows":
        return json.dumps({"rows": [list(record.values())]}).encode()
    return json.dumps(record).encode()


def _pinning() -> tuple[list[str], list[str]] | None:
    """``taskset`` prefixes for a server on core 0 and its client on core 1, where possible."""
    taskset = shutil.which("taskset")
    if taskset is None or len(os.sched_getaffinity(0)) < 2:
        return None
    return [taskset, "-c", "0"], [taskset, "-c", "1"]


def client() -> str:
    """The load generator this run uses."""
    return "wrk" if shutil.which("wrk") else "asyncio"


_WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk(port: int, path: str, body: bytes, concurrency: int, seconds: float,
         prefix: list[str]) -> dict[str, Any]:
    """One wrk run (one thread, ``concurrency`` connections); requests, req/s, p50/p99 ms."""
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-wrk-{os.getpid()}"
    work.mkdir(exist_ok=True)
    (work / "body").write_bytes(body)
    (work / "post.lua").write_text(_WRK_SCRIPT)
    out = subprocess.run(
        [*prefix, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency",
         "-s", str(work / "post.lua"), f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "BENCH_BODY": str(work / "body")}).stdout

    def latency(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")

    requests = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if requests is None or rps is None:
        raise RuntimeError(f"wrk said: {out[-300:]}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    errors = int(bad.group(1)) if bad else 0
    if failed:
        errors += sum(int(x) for x in failed.groups())
    return {"requests": int(requests.group(1)), "rps": float(rps.group(1)),
            "p50_ms": latency("50"), "p99_ms": latency("99"), "errors": errors}


def _load(port: int, path: str, body: bytes, concurrency: int, seconds: float,
          prefix: list[str]) -> dict[str, Any]:
    if client() == "wrk":
        return _wrk(port, path, body, concurrency, seconds, prefix)
    out = subprocess.run(
        [*prefix, sys.executable, __file__, "loadgen", "--port", str(port), "--path", path,
         "--concurrency", str(concurrency), "--seconds", str(seconds)],
        input=body, capture_output=True, check=True)
    return dict(json.loads(out.stdout))


class _Running:
    """A started server: its process, port, spec and the client's core prefix."""

    def __init__(self, work: Path, name: str) -> None:
        self.port = _free_port()
        self.spec = spec = _servers(work, self.port)[name]
        # One OpenMP/BLAS thread for every server: on a small machine idle OpenMP workers
        # spin and starve the event loop (modelyard sets this itself: predict_threads=1).
        env = {**os.environ, "MODELYARD_SWAP_POLL_INTERVAL_S": "30", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **spec.get("env", {})}
        env.pop("VIRTUAL_ENV", None)
        self.pins = _pinning() if spec.get("cores") != "all" else None
        server_pin, self.client_pin = self.pins or ([], [])
        self.proc = subprocess.Popen([*server_pin, *spec["cmd"]], cwd=work, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def ready(self, record: dict[str, float]) -> bytes:
        """Wait until it answers, warm it up; returns the request body."""
        _wait_port(self.port, self.proc, self.spec.get("ready"))
        body = _body(self.spec["body"], record)
        self.load(body, 4, 2.0)  # warm up
        return body

    def load(self, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
        return _load(self.port, self.spec["path"], body, concurrency, seconds,
                     self.client_pin)

    def cpu_s(self) -> float | None:
        """The server process's CPU seconds so far (user + system), where /proc has them."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_server(work: Path, name: str, record: dict[str, float], levels: list[int],
                seconds: float) -> dict[str, Any]:
    """Start ``name``, warm it up, drive it at each level, stop it: one round's figures."""
    server = _Running(work, name)
    try:
        body = server.ready(record)
        out: dict[str, Any] = {"pinned": server.pins is not None}
        for c in levels:
            out[str(c)] = server.load(body, c, seconds)
            print(f"   c={c}: {out[str(c)]}", file=sys.stderr)
        return out
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        return {"failed": f"{type(exc).__name__}: {exc}"}
    finally:
        _stop(server.proc)


LOG_AB = ("modelyard", "modelyard, no prediction log")


def _log_ab(work: Path, record: dict[str, float], concurrency: int, pairs: int = 5,
            seconds: float = 2.0) -> dict[str, Any]:
    """The prediction log's cost, A/B: both servers up at once on the same core, driven in
    turn (on, off, then off, on, ...) for ``pairs`` pairs of ``seconds`` each, so that both
    sides of a pair meet the same moment of the machine. Each run's throughput, p99 and the
    server's CPU time per request."""
    servers: dict[str, _Running] = {}
    try:
        for name in LOG_AB:  # one at a time: a second that cannot start stops the first
            servers[name] = _Running(work, name)
        bodies = {name: s.ready(record) for name, s in servers.items()}
        out: dict[str, Any] = {name: [] for name in LOG_AB}
        for i in range(pairs):
            for name in (LOG_AB if i % 2 == 0 else LOG_AB[::-1]):
                server = servers[name]
                before = server.cpu_s()
                figures = server.load(bodies[name], concurrency, seconds)
                after = server.cpu_s()
                figures["seconds"] = seconds
                if before is not None and after is not None and figures["requests"]:
                    figures["cpu_us"] = (after - before) / figures["requests"] * 1e6
                out[name].append(figures)
            print(f"   pair {i + 1}: " + ", ".join(
                f"{n}: {out[n][-1]['rps']:.0f} req/s" for n in LOG_AB), file=sys.stderr)
        return out
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        return {"failed": f"{type(exc).__name__}: {exc}"}
    finally:
        for server in servers.values():
            _stop(server.proc)


def run(work: Path, out: Path, seconds: float, levels: list[int], only: list[str],
        repeat: int) -> None:
    """Prepare, then drive every server at each concurrency, ``repeat`` rounds; write JSON."""
    started = machine()
    info = prepare(work)
    mlflow_py = HERE / ".venv-mlflow" / "bin" / "python"
    names = [n for n in _servers(work, 0) if not only or n in only]
    broken: dict[str, str] = {}
    if "MLflow" in names and mlflow_py.exists() and not (work / "mlflow-model").exists():
        saved = subprocess.run([str(mlflow_py), "-c", MLFLOW_SAVE, str(work / "model.joblib"),
                                str(work / "mlflow-model")], capture_output=True, text=True)
        if saved.returncode:
            broken["MLflow"] = "could not save the model: " + saved.stderr.strip()[-300:]
    if info.get("onnx_error"):
        broken["modelyard, ONNX Runtime version"] = info["onnx_error"]
    results: dict[str, Any] = {
        "machine": started, "seconds": seconds, "levels": levels, "repeat": repeat,
        "client": client(), "pinned": _pinning() is not None,
        "libs": {"modelyard": _libs(sys.executable),
                 "MLflow": _libs(str(mlflow_py)),
                 "BentoML": _libs(str(HERE / ".venv-bentoml" / "bin" / "python"))},
        "in_process": [], "serialisation": serialisation(),
        "servers": {n: {"kind": _servers(work, 0)[n]["kind"], "rounds": []} for n in names}}
    for round_no in range(1, repeat + 1):
        results["in_process"].append(_in_process_pinned(work))
        for name in names:
            spec = _servers(work, 0)[name]
            if "needs" in spec and not Path(spec["needs"]).exists():
                results["servers"][name]["rounds"].append(
                    {"failed": f"not installed: {spec['needs']} is missing"})
                continue
            if name in broken:
                results["servers"][name]["rounds"].append({"failed": broken[name]})
                continue
            print(f"== round {round_no}/{repeat}: {name}", file=sys.stderr)
            results["servers"][name]["rounds"].append(
                _one_server(work, name, info["record"], levels, seconds))
        if all(name in names for name in LOG_AB):
            print(f"== round {round_no}/{repeat}: the prediction log on and off, in turn",
                  file=sys.stderr)
            results.setdefault("log_ab", []).append(
                _log_ab(work, info["record"], levels[-1]))
    results["machine_after"] = machine()
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

def _values(server: dict[str, Any], level: str, key: str) -> list[float | None]:
    """One value per round; ``None`` for a round in which the server failed."""
    return [None if "failed" in r or level not in r else float(r[level][key])
            for r in server["rounds"]]


def _paired(a: dict[str, Any], b: dict[str, Any], level: str,
            fn: Any) -> dict[str, Any] | None:
    """``fn(a, b)`` of the throughputs round by round (rounds where both ran)."""
    pairs = [fn(x, y) for x, y in zip(_values(a, level, "rps"), _values(b, level, "rps"),
                                      strict=True) if x is not None and y is not None]
    return summary(pairs) if pairs else None


def _failures(server: dict[str, Any]) -> str:
    reasons = sorted({r["failed"] for r in server["rounds"] if "failed" in r})
    return "; ".join(reasons)


def _floor_row(in_process: list[dict[str, float]], level: int) -> tuple[int, dict[str, Any]]:
    size = max(b for b in BATCH_SIZES if b <= max(level, 1))
    return size, summary(r[str(size)] for r in in_process)


def _round_limits(servers: dict[str, Any], in_process: list[dict[str, float]],
                  level: str) -> list[float | None]:
    """Each round's combined limit: 1 / (1 / that round's HTTP-floor throughput + that
    round's model time per row); ``None`` for a round whose HTTP floor failed."""
    raw = servers.get("raw ASGI, constant answer (HTTP floor)")
    if not raw:
        return []
    size, _ = _floor_row(in_process, int(level))
    return [None if not http or math.isnan(http) else 1 / (1 / http + floor[str(size)] / 1e6)
            for http, floor in zip(_values(raw, level, "rps"), in_process, strict=True)]


def _limit_shares(servers: dict[str, Any], in_process: list[dict[str, float]],
                  level: str) -> dict[str, Any] | None:
    """modelyard's throughput over the combined limit of the same round, in % of it (paired
    round by round, as every other ratio here); a round where modelyard failed counts 0."""
    ours = servers.get("modelyard")
    limits = _round_limits(servers, in_process, level)
    if not ours or not any(limits):
        return None
    return summary((None if v is None else v / limit * 100
                    for v, limit in zip(_values(ours, level, "rps"), limits, strict=True)
                    if limit), failed_as=0.0)


def _log_ab_line(rounds: list[dict[str, Any]]) -> str | None:
    """The logging-cost target from the A/B runs (``_log_ab``): ``None`` if there were none."""
    if not rounds:
        return None
    on, off = LOG_AB
    done = [x for x in rounds if "failed" not in x]
    failed = sorted({x["failed"] for x in rounds if "failed" in x})
    if not done:
        return ("- prediction logging costs <= 5% of throughput: the A/B runs failed ("
                + "; ".join(failed) + "), **not met**")
    pairs = [(a, b) for x in done for a, b in zip(x[on], x[off], strict=True)]
    cost = summary((1 - a["rps"] / b["rps"]) * 100 for a, b in pairs)
    cpu = summary((a["cpu_us"] / b["cpu_us"] - 1) * 100 for a, b in pairs
                  if "cpu_us" in a and "cpu_us" in b)
    p99_on, p99_off = (summary(x["p99_ms"] for x, _ in pairs),
                       summary(y["p99_ms"] for _, y in pairs))
    seconds = "/".join(sorted({f"{a.get('seconds', 2.0):g}" for a, _ in pairs}))
    text = (f"- prediction logging costs <= 5% of throughput: {spread(cost, '%')} over "
            f"{cost['n']} pairs of runs ({len(done)} rounds; both servers up at once on "
            f"the same core, driven in turn for {seconds} s each, so that both sides of a "
            "pair meet the same moment of the machine)")
    if cpu["n"]:
        text += (f"; the server's CPU time per request with the log against without: "
                 f"{spread(cpu, '%')}")
    text += (f"; p99 {spread(p99_on, ' ms')} with the log, {spread(p99_off, ' ms')} "
             "without")
    if failed:
        text += f"; {len(rounds) - len(done)} round(s) failed ({'; '.join(failed)})"
    width = cost["max"] - cost["min"]
    if width > 5:
        text += (f"; the pairs spread over {width:.0f} points, {width / 5:.0f}x the 5% being "
                 "judged: two runs seconds apart differ by more than the cost, so the verdict "
                 "is the median's (the project's rule) and a cost of a few percent is not "
                 "resolved by this run")
    return text + ", " + verdict(cost["median"], 5, higher_is_better=False)


def report(path: Path, markdown: Path | None) -> str:
    """The results as a Markdown section; replaces (or appends) it in ``markdown``."""
    r = json.loads(path.read_text())
    servers: dict[str, dict[str, Any]] = r["servers"]
    levels = [str(c) for c in r["levels"]]
    top = levels[-1]
    m, libs = r["machine"], r["libs"]
    lines = [SECTION, "",
             f"- run: {m['date']}, {r['repeat']} rounds in one invocation "
             "(`bash benchmarks/run.sh serving`); every server once per round, one after "
             "the other; each figure is the median of the rounds with (min-max)",
             f"- machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}; load at "
             f"the start: `{m['uptime']}`; at the end: `{r['machine_after']['uptime']}`",
             ("- one load generator for all: "
              + ("`wrk` (one thread, keep-alive connections, a Lua script posting the body)"
                 if r.get("client") == "wrk" else
                 "an asyncio HTTP/1.1 keep-alive client in its own process")
              + f"; {r['seconds']:g} s per concurrency after a 2 s warm-up"),
             ("- cores: every one-process server pinned to core 0 (`taskset -c 0`, child "
              "processes included) and the client to core 1; `modelyard, 2 workers` and its "
              "client share both cores" if r.get("pinned") else
              "- cores: not pinned (no `taskset`, or one core): server and client share the "
              "machine"),
             "- model: HistGradientBoostingClassifier (100 iterations) on scikit-learn's "
             "breast-cancer set, 30 features; one JSON record per request; every server with "
             "OMP_NUM_THREADS=1 and one process (one worker), but `modelyard, 2 workers`",
             "- stacks: modelyard, the minimal endpoint and the raw ASGI app on "
             + ", ".join(f"{k} {v}" for k, v in libs["modelyard"].items() if k not in
                         ("mlflow", "bentoml"))
             + "; MLflow " + libs["MLflow"].get("mlflow", "absent")
             + "; BentoML " + libs["BentoML"].get("bentoml", "absent")
             + " (adaptive batching: `batchable=True`, at most 64 rows, 100 ms)", "",
             "| server | " + " | ".join(f"c={c} req/s | c={c} p99 ms" for c in levels) + " |",
             "| --- |" + " ---: | ---: |" * len(levels)]
    for name, res in servers.items():
        failed = _failures(res)
        if all("failed" in x for x in res["rounds"]):
            lines.append(f"| {name} | failed: {failed} |" + " |" * (2 * len(levels) - 1))
            continue
        cells = []
        for c in levels:
            rps = summary(_values(res, c, "rps"), failed_as=0.0)
            p99 = summary(_values(res, c, "p99_ms"))
            errors = sum(int(x[c]["errors"]) for x in res["rounds"] if c in x)
            note = f" ({errors} non-200)" if errors else ""
            cells += [spread(rps) + note, spread(p99)]
        row = f"| {name} | " + " | ".join(cells) + " |"
        if failed:
            row += f" failed in {sum('failed' in x for x in res['rounds'])} round(s): {failed}"
        lines.append(row)

    ip = r["in_process"]
    lines += ["", "Floors (what no one-process server can beat on this machine): in-process "
              "`predict_proba` (one OpenMP thread, on the servers' core; CPU time of the "
              "calling thread, so other processes' load is not counted) costs " + ", ".join(
                  f"{spread(summary(x[str(b)] for x in ip), ' µs')} per row in batches of {b}"
                  for b in BATCH_SIZES) + "."]
    raw = servers.get("raw ASGI, constant answer (HTTP floor)")
    ours = servers.get("modelyard")
    if raw and ours:
        shares = []
        for c in levels:
            limits = [x for x in _round_limits(servers, ip, c) if x]
            http = summary(_values(raw, c, "rps"), failed_as=0.0)["max"]
            size, compute = _floor_row(ip, int(c))
            if not limits or not http or math.isnan(http):
                continue
            bound = 1 / (1 / http + compute["min"] / 1e6)
            share = _limit_shares(servers, ip, c)
            mine = summary(_values(ours, c, "rps"), failed_as=0.0)["median"]
            shares.append(f"c={c}: {spread(summary(limits), ' req/s')} over the rounds "
                          f"(model at batch {size}); modelyard answers "
                          f"{spread(share or summary([]), '%')} of its round's limit; the "
                          f"best floors of all rounds together ({fmt(http)} req/s of HTTP, "
                          f"{fmt(compute['min'])} µs of model per row) give "
                          f"{fmt(bound)} req/s, of which modelyard's median is "
                          f"{mine / bound:.0%}")
        lines += ["", "The combined limit (one process that only parsed HTTP and ran the model: "
                  "1 / (1 / HTTP-floor throughput + model time per row), each round from its "
                  "own floors, measured in that round beside modelyard): "
                  + "; ".join(shares) + "."]
    limit_share = _limit_shares(servers, ip, top)
    ser = r.get("serialisation", {})
    if "orjson_us" in ser:
        lines.append(f"Serialising one answer: {fmt(ser['json_us'])} µs with json + tolist, "
                     f"{fmt(ser['orjson_us'])} µs with orjson on the NumPy arrays (one "
                     "measurement).")

    lines += ["", f"Targets at concurrency {top} (ratios are paired round by round: median "
              "(min-max) of the rounds; a target is met only when the median meets it):", ""]
    if not ours or all("failed" in x for x in ours["rounds"]):
        lines.append(f"- modelyard failed in every round ({_failures(ours or {'rounds': []})}"
                     "): **no target met**")
    else:
        def ratio(name: str, factor: float) -> None:
            other = servers.get(name)
            pair = _paired(ours, other, top, lambda a, b: a / b) if other else None
            if pair is None:
                why = _failures(other) if other else "not run"
                lines.append(f"- >= {factor:g}x {name}: not measured ({why}), **not met**")
                return
            lines.append(f"- >= {factor:g}x {name}: {spread(pair, 'x')}, "
                         + verdict(pair["median"], factor, higher_is_better=True))

        ratio("MLflow", 10)
        ratio("BentoML, adaptive batching", 4)
        ratio("minimal FastAPI", 1.5)
        unbatched = servers.get("BentoML, no batching")
        pair = _paired(ours, unbatched, top, lambda a, b: a / b) if unbatched else None
        if pair is not None:
            lines.append(f"- against BentoML without batching (no target): {spread(pair, 'x')}")
        minimal = servers.get("minimal FastAPI")
        if minimal:
            mine = summary(_values(ours, top, "p99_ms"))
            theirs = summary(_values(minimal, top, "p99_ms"))
            lines.append(f"- p99 <= the minimal endpoint's: {spread(mine, ' ms')} vs "
                         f"{spread(theirs, ' ms')}, "
                         + verdict(mine["median"], theirs["median"], higher_is_better=False))
        if limit_share is not None:
            lines.append(f"- >= 50% of the combined limit on one core: "
                         f"{spread(limit_share, '%')} (each round's throughput over that "
                         "round's limit), "
                         + verdict(limit_share["median"], 50, higher_is_better=True))
        else:
            lines.append("- >= 50% of the combined limit on one core: not measured (a floor "
                         "failed), **not met**")
        p99 = summary(_values(ours, top, "p99_ms"))
        lines.append(f"- p99 < 20 ms at c={top}: {spread(p99, ' ms')}, "
                     + verdict(p99["median"], 20, higher_is_better=False))
        nolog = servers.get("modelyard, no prediction log")
        cost = _paired(ours, nolog, top, lambda a, b: (1 - a / b) * 100) if nolog else None
        log_ab = _log_ab_line(r.get("log_ab", []))
        if log_ab is not None:
            lines.append(log_ab)
            if cost is not None:
                lines.append(f"- the same cost from the table's separate runs, one after the "
                             f"other in each round (no verdict: a round's runs meet different "
                             f"moments of the machine): {spread(cost, '%')}")
        elif cost is not None:
            over = sum(1 for v in cost["values"] if v > 5)
            sign = ("; a negative cost means logging on was faster in that round: the "
                    "rounds' noise is larger than the cost" if cost["min"] < 0 else "")
            if over:
                # met only when every round agrees: a median pulled under the target by
                # rounds whose noise exceeds the cost says nothing about the cost
                sign += (f"; {over} of {cost['n']} rounds were over 5%, so this run does not "
                         "show the target met")
            lines.append(f"- prediction logging costs <= 5% of throughput: "
                         f"{spread(cost, '%')}{sign}, "
                         + ("**not met**" if over else
                            verdict(cost["median"], 5, higher_is_better=False)))
        for other, what in (("modelyard, ONNX Runtime version",
                             "the version stored as ONNX vs as scikit-learn (no target)"),
                            ("modelyard, 2 workers",
                             "2 workers on both cores (client on the same cores) vs one "
                             "worker on one core (no target)")):
            res = servers.get(other)
            if res is None:
                continue
            pair = _paired(res, ours, top, lambda a, b: a / b)
            if pair is None:
                lines.append(f"- {what}: not measured ({_failures(res)})")
                continue
            rate = summary(_values(res, top, "rps"), failed_as=0.0)
            lines.append(f"- {what}: {spread(pair, 'x')} the throughput ({spread(rate)} "
                         "req/s)")
        single = servers.get("modelyard, no batching")
        gain = _paired(ours, single, top, lambda a, b: a / b) if single else None
        if gain is not None:
            lines.append(f"- batching vs one model call per request (no target): "
                         f"{spread(gain, 'x')} the throughput")
    noise = []
    for name, res in servers.items():
        s = summary(_values(res, top, "rps"), failed_as=0.0)
        if s["n"] > 1 and not s["failed"] and s["median"]:
            noise.append(((s["max"] - s["min"]) / s["median"], name))
    if noise:
        worst, who = max(noise)
        mine = dict((n, v) for v, n in noise).get("modelyard")
        lines += ["", f"Noise: across the {r['repeat']} rounds, one server's throughput at "
                  f"c={top} varied by up to {worst:.0%} of its median (max - min over median; "
                  f"{who})" + (f"; modelyard's by {mine:.0%}" if mine is not None else "")
                  + ". Differences smaller than that are not resolved by this run."]
    lines += ["", "How to read it: modelyard answers predict calls straight from ASGI "
              "(FastAPI serves the other routes and the OpenAPI document), validates each "
              "body against the signature (a record of plain numbers by a direct check "
              "into the float matrix, anything else by pydantic-core), gathers "
              "concurrent requests into one "
              "`predict_proba` call per batch (in its own thread, so the event loop keeps "
              "reading requests meanwhile) and appends every prediction to the Parquet "
              "prediction log from a background thread. BentoML with adaptive batching "
              "merges concurrent requests the same way; its requests carry the row as an "
              "array and its answer is the probabilities alone. The minimal endpoint is a "
              "plain `def` route (FastAPI runs it in its thread pool), one `predict_proba` "
              "per request. "
              + ("The client runs on a core of its own (core 1), but for the 2 workers row, "
                 "where it shares both cores with the server; other work on the machine "
                 "shares every core (its load average is in the header)." if r.get("pinned")
                 else "The load generator shares the machine's cores with each server."),
              ""]
    text = "\n".join(lines)
    if markdown is not None:
        replace_section(markdown, SECTION, text)
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
    r.add_argument("--repeat", type=int, default=3, help="rounds (at least 3 for a report)")
    g = sub.add_parser("loadgen")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--path", required=True)
    g.add_argument("--concurrency", type=int, required=True)
    g.add_argument("--seconds", type=float, required=True)
    fl = sub.add_parser("floor")
    fl.add_argument("--workdir", type=Path, required=True)
    rep = sub.add_parser("report")
    rep.add_argument("results", type=Path)
    rep.add_argument("--markdown", type=Path)
    args = p.parse_args()
    if args.command == "run":
        run(args.workdir, args.out, args.seconds, args.levels, args.only, args.repeat)
    elif args.command == "loadgen":
        body = sys.stdin.buffer.read()
        coro = _loadgen(args.port, args.path, body, args.concurrency, args.seconds)
        try:
            import uvloop

            print(json.dumps(uvloop.run(coro)))
        except ImportError:
            print(json.dumps(asyncio.run(coro)))
    elif args.command == "floor":
        print(json.dumps(in_process(args.workdir)))
    else:
        print(report(args.results, args.markdown))


if __name__ == "__main__":
    main()
