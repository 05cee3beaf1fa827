"""Prediction logging to an S3 API against a local folder, as a cost per request.

One :class:`modelyard.monitor.PredictionLog` per run takes ``--requests`` requests of one
row each (the 30 features of scikit-learn's breast-cancer set, a class and two class
probabilities: what ``modelyard serve`` logs for that model), as fast as ``append`` takes
them, then is closed, which writes every row and closes every part: into the folder, or
with one PUT per closed part into the bucket. A part closes once it passes ``--rotate-mb``
MiB (checked after each flush, every 0.5 s), or at the end. Three figures per request:

- *request path*: the time ``append`` took, what a prediction waits for;
- *process CPU*: the CPU time of this process from the first ``append`` until ``close``
  returned (the writer thread's Arrow, Parquet and upload work), divided by the requests:
  what logging takes from the cores a server predicts on;
- *to durable*: the wall time from the first ``append`` until ``close`` returned, divided
  by the requests.

The S3 API is moto in server mode (``moto_server``, installed with the dev tools), in a
process of its own on 127.0.0.1 so its CPU is not counted as the client's; it keeps objects
in memory, so the S3 side measures the client's cost and a loop-back round trip, not a
real bucket's network. Sides alternate run by run (local, s3, local, ...), ``--repeat``
runs each (at least 3); each figure is the median (min-max).

Usage::

    .venv/bin/python benchmarks/bench_s3_log.py --repeat 3 --out /tmp/s3log.json \\
        --markdown docs/benchmarks/s3-log.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, spread, summary

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start within 60 s")


def _rows() -> tuple[Any, Any, list[tuple[str, str]]]:
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    names = [str(c).replace(" ", "_") for c in X.columns]
    return X.to_numpy(dtype=np.float64), np, [(n, "float") for n in names]


def one_run(root: str, spool: Path | None, requests: int, rotate_mb: float) -> dict[str, Any]:
    """Log ``requests`` one-row requests to ``root``; the costs per request."""
    from modelyard.monitor import LogSchema, PredictionLog

    matrix, np, inputs = _rows()
    schema = LogSchema("cancer", 1, tuple(inputs), "integer", (0, 1))
    proba = np.array([[0.2, 0.8]])
    log = PredictionLog(root, spool_dir=spool, rotate_bytes=int(rotate_mb * 1024 * 1024),
                        rotate_s=3600, max_queue_rows=requests + 1)
    log.start()
    time.sleep(0.2)  # the writer thread's start-up is not a request's cost
    cpu0, wall0 = time.process_time(), time.perf_counter()
    in_append = 0.0
    for i in range(requests):
        row = matrix[i % len(matrix)].reshape(1, -1)
        t = time.perf_counter()
        log.append(schema, f"req-{i}", row, np.array([1]), proba, alias="champion",
                   latency_ms=3.0)
        in_append += time.perf_counter() - t
    log.close(timeout=600)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert log.written_rows == requests and log.dropped_rows == 0, (
        log.written_rows, log.dropped_rows)
    return {"append_us": in_append / requests * 1e6, "cpu_us": cpu / requests * 1e6,
            "durable_us": wall / requests * 1e6, "parts": log.files_written}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import s3fs

    from modelyard.monitor import read_prediction_log

    started = machine()
    moto, endpoint = _start_moto()
    os.environ.update(CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-s3log-"))
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "s3": []}
    try:
        fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="bench", secret="bench")
        for i in range(args.repeat):
            for side in ("local", "s3"):
                if side == "local":
                    root, spool = str(work / f"local-{i}"), None
                else:
                    bucket = f"bench-{uuid.uuid4().hex[:10]}"
                    fs.mkdir(bucket)
                    root, spool = f"s3://{bucket}/predictions", work / f"spool-{i}"
                result = one_run(root, spool, args.requests, args.rotate_mb)
                logged = read_prediction_log(root, "cancer").num_rows
                assert logged == args.requests, f"{side}: {logged} of {args.requests} logged"
                if side == "s3":
                    result["objects"] = len(fs.find(bucket))
                runs[side].append(result)
                print(f"round {i + 1} {side}: " + ", ".join(
                    f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in result.items()), flush=True)
    finally:
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return {"machine": started, "machine_after": machine(), "requests": args.requests,
            "rotate_mb": args.rotate_mb, "repeat": args.repeat, "runs": runs}


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    stats = {side: {k: summary(r[k] for r in runs[side])
                    for k in ("append_us", "cpu_us", "durable_us", "parts")}
             for side in runs}
    m = result["machine"]
    rows = [f"| {side} | {spread(s['append_us'])} | {spread(s['cpu_us'])} | "
            f"{spread(s['durable_us'])} | {int(s['parts']['median'])} |"
            for side, s in stats.items()]
    cpu = {side: s["cpu_us"]["median"] for side, s in stats.items()}
    durable = {side: s["durable_us"]["median"] for side, s in stats.items()}
    append = {side: s["append_us"]["median"] for side, s in stats.items()}
    extra_cpu = cpu["s3"] - cpu["local"]
    objects = sorted({r.get("objects", 0) for r in runs["s3"]})
    parts = sorted({r["parts"] for r in runs["s3"]})
    return "\n".join([
        "# Prediction logging: an S3 API against a local folder",
        "",
        f"What logging one served prediction costs when the log lives on an S3 API rather "
        f"than in a local folder. Each run logs {result['requests']:,} one-row requests "
        "(30 float features, a class and two probabilities: the breast-cancer model "
        "`modelyard serve` answers) through `PredictionLog`, closing a part every "
        f"{result['rotate_mb']:g} MiB (checked after each flush), then closes the log "
        "(every row written, every part closed: renamed in the folder, or uploaded with one "
        "PUT per part to the bucket). "
        f"Sides alternate, {result['repeat']} runs each, from one invocation of "
        "`python benchmarks/bench_s3_log.py`; each figure is the median (min\u2013max), in "
        "microseconds per request.",
        "",
        f"Machine: {m['cpus']} cores, {m['platform']}, Python {m['python']}, {m['date']}; "
        f"load at the start `{m['uptime'].split('load average:')[-1].strip()}`, at the end "
        f"`{result['machine_after']['uptime'].split('load average:')[-1].strip()}` "
        "(`uptime`; other work shared the machine). The S3 API is moto in server mode in "
        "a process of its own on 127.0.0.1, keeping objects in memory: the S3 side measures "
        "the client's work and a loop-back round trip, not a real bucket's network.",
        "",
        "| log on | request path (`append`), \u00b5s | process CPU, \u00b5s | "
        "to durable, \u00b5s | parts closed (median) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"- Process CPU per request: {cpu['s3']:.1f} \u00b5s with S3 against "
        f"{cpu['local']:.1f} \u00b5s with a folder (medians), "
        + (f"{extra_cpu:.1f} \u00b5s more per request on S3."
           if extra_cpu >= 0 else f"{-extra_cpu:.1f} \u00b5s less per request on S3 "
           "(within the run-to-run spread above)."),
        f"- Wall time until every row is durable: {durable['s3']:.1f} \u00b5s per request "
        f"with S3 against {durable['local']:.1f} \u00b5s with a folder.",
        f"- The request path (`append`, a queue append on both sides: the bucket is "
        f"written only by the log's own thread, once per closed part, never per request) "
        f"took {append['s3']:.1f} \u00b5s with S3 against {append['local']:.1f} \u00b5s "
        "(medians); what differs is the writer thread's share of the GIL meanwhile.",
        f"- Objects in each run's bucket: {', '.join(map(str, objects))}; parts closed: "
        f"{', '.join(map(str, parts))} (one object per closed part, no other key).",
        "",
        "Reproduce: `.venv/bin/python benchmarks/bench_s3_log.py --repeat 3 "
        "--markdown docs/benchmarks/s3-log.md` (`--requests`, `--rotate-mb`).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rotate-mb", type=float, default=0.25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the report here")
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (a median of fewer says little)")
    result = run(args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
