"""The dashboard against a big store, side by side with MLflow's run search.

Fills a fresh modelyard project with ``--runs`` runs (default 10,000), each with 20 params
and 20 metrics of 100 steps (20 million metric rows), plus one run with 100,000 metric
points, and an MLflow SQLite store with the same runs, values and names (written with
MLflow's own schema by the MLflow environment's Python: ``fill-mlflow``). Then starts
``modelyard ui`` and ``mlflow server`` (SQLite backend), both on 127.0.0.1 and pinned to the
same ``--cpus`` cores, and in each of ``--repeat`` rounds (the sides' order alternating)
times one request of each:

- the runs page's data, first page of 50: newest first; sorted by a metric; filtered by a
  metric and sorted by another. modelyard: ``GET /api/runs``; MLflow: ``POST
  /ajax-api/2.0/mlflow/runs/search`` (what MLflow's UI calls), over every experiment. The
  first pages must name the same runs in the same order, or the row says they differ;
- modelyard only: page 100, the runs page as HTML, the run page with 100,000 points as HTML;
- the run page with 100,000 points drawn in Debian's chromium (Playwright): from navigation
  to the frame after the ``load`` event with the curves in the page (each long curve drawn
  from at most 1,000 of its points, as the page says; the report gives both counts).

Each figure is the median (min-max) of the rounds; a request that fails counts as failed
(``benchmarks/_report.py`` has the rules). Targets (issue 16): the runs data under 300 ms
on 2 cores; the long run page drawn in under a second.

    .venv/bin/python benchmarks/bench_ui.py run --mlflow-python /tmp/venv-mlflow/bin/python \\
        --out benchmarks/results/ui.json            # --project DIR keeps/reuses the stores
    .venv/bin/python benchmarks/bench_ui.py report benchmarks/results/ui.json \\
        --page docs/benchmarks/ui.md --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

N_PARAMS, N_METRICS, N_STEPS = 20, 20, 100
LONG_KEYS, LONG_STEPS = 10, 10_000
RunRow = tuple[str, str, str, float, list[tuple[str, str]], str, list[tuple[str, float]]]


def generate(runs: int, rng: random.Random) -> Iterator[RunRow]:
    """The runs, the same on both sides: (id, name, experiment, start, params, team tag,
    per metric its level; step ``s`` has ``level / (1 + s)``)."""
    for i in range(runs):
        params = [(f"p{k:02d}", str(round(rng.random() * 10, 3))) for k in range(N_PARAMS)]
        levels = [(f"m{k:02d}", rng.random()) for k in range(N_METRICS)]
        yield (uuid.uuid4().hex, f"run-{i:05d}", f"exp-{i % 10}", 1.7e9 + i * 60, params,
               ("risk", "growth", "ops")[i % 3], levels)


def long_points(rng: random.Random) -> list[tuple[str, float, int]]:
    return [(f"curve{k}", 1 / (1 + s) + rng.random() * 0.01, s)
            for k in range(LONG_KEYS) for s in range(LONG_STEPS)]


def fill(project: Path, runs: int) -> str:
    """Write the runs in bulk through the store's database (200 runs a transaction); return
    the id of the run with 100,000 points."""
    import modelyard

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
        batch: list[RunRow] = []
        for row in [*generate(runs, rng), None]:
            if row is not None:
                batch.append(row)
            if not batch or (row is not None and len(batch) < 200):
                continue
            metrics = [(rid, key, level / (1 + s), s, start + s)
                       for rid, _, _, start, _, _, levels in batch
                       for key, level in levels for s in range(N_STEPS)]

            def write(session: Any, batch: list[RunRow] = batch) -> None:
                conn = session.connection()
                conn.exec_driver_sql(run_sql, [
                    (rid, name, exp, None, "finished", start, start + 30, start + 30, "bench",
                     1, 0.0, "", "{}", "") for rid, name, exp, start, _, _, _ in batch])
                conn.exec_driver_sql(kv_sql["params"], [
                    (b[0], k, v) for b in batch for k, v in b[4]])
                conn.exec_driver_sql(kv_sql["tags"], [(b[0], "team", b[5]) for b in batch])

            db.write(write)
            yard.store.runs.insert_metrics(metrics)
            batch = []
        repo = yard.store.runs
        long_id = uuid.uuid4().hex
        repo.create(run_id=long_id, name="long-run", experiment="long", parent_id=None,
                    host="bench", pid=1, pid_started_at=0.0, git_commit="", environment={},
                    start_time=1.6e9)
        repo.insert_metrics([(long_id, k, v, s, 1.6e9 + s) for k, v, s in long_points(rng)])
        repo.end(long_id, status="finished", end_time=1.6e9 + 100)
    return long_id


def fill_mlflow(db_path: Path, runs: int) -> None:
    """The same runs in an MLflow SQLite store: schema and experiments through MLflow's own
    ``SqlAlchemyStore``, rows (runs, params, tags with ``mlflow.runName``, every metric
    value and ``latest_metrics``) in bulk. Run by the MLflow environment's Python."""
    import sqlite3

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    artifacts = db_path.parent / "mlruns"
    store = SqlAlchemyStore(f"sqlite:///{db_path}", str(artifacts))
    experiments = {name: store.create_experiment(name) for name in
                   [f"exp-{k}" for k in range(10)] + ["long"]}
    store.engine.dispose()
    rng = random.Random(0)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=OFF")

    def write(rows: list[RunRow]) -> None:
        def ms(t: float) -> int:
            return int(t * 1000)
        con.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            (rid, name, "LOCAL", "", "", "bench", "FINISHED", ms(start), ms(start + 30), "",
             "active", f"{artifacts}/{experiments[exp]}/{rid}/artifacts",
             int(experiments[exp]), None) for rid, name, exp, start, _, _, _ in rows])
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)",
                        [(k, v, r[0]) for r in rows for k, v in r[4]])
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)",
                        [t for r in rows for t in ((("team", r[5], r[0])),
                                                   ("mlflow.runName", r[1], r[0]))])
        con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                        "VALUES (?,?,?,?,?,0)", [
                            (key, level / (1 + s), ms(r[3] + s), r[0], s)
                            for r in rows for key, level in r[6] for s in range(N_STEPS)])
        last = N_STEPS - 1
        con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, "
                        "run_uuid) VALUES (?,?,?,?,0,?)", [
                            (key, level / (1 + last), ms(r[3] + last), last, r[0])
                            for r in rows for key, level in r[6]])
        con.commit()

    batch: list[RunRow] = []
    for row in generate(runs, rng):
        batch.append(row)
        if len(batch) == 200:
            write(batch)
            batch = []
    if batch:
        write(batch)
    rid = uuid.uuid4().hex
    con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
        rid, "long-run", "LOCAL", "", "", "bench", "FINISHED", 1_600_000_000_000,
        1_600_000_100_000, "", "active", f"{artifacts}/long/{rid}", int(experiments["long"]),
        None))
    points = long_points(rng)
    con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?,?,?,?,?,0)",
                    [(k, v, 1_600_000_000_000 + s * 1000, rid, s) for k, v, s in points])
    con.executemany("INSERT INTO latest_metrics VALUES (?,?,?,?,0,?)", [
        (k, v, 1_600_000_000_000 + s * 1000, s, rid) for k, v, s in points
        if s == LONG_STEPS - 1])
    con.commit()
    con.close()


# -- measuring ------------------------------------------------------------------------------

COMPARED = (  # label, modelyard query, MLflow search body (besides experiment_ids)
    ("first page, newest first", "", {}),
    ("first page, sorted by a metric", "sort=metrics.m03&order=desc",
     {"order_by": ["metrics.m03 DESC"]}),
    ("first page, filtered by a metric, sorted by another",
     "filter=metrics.m05%20%3E%200.005&sort=metrics.m03&order=desc",
     {"filter": "metrics.m05 > 0.005", "order_by": ["metrics.m03 DESC"]}),
)
OURS_ONLY = (("page 100, newest first", "/api/runs?page=100"),
             ("the runs page as HTML", "/runs"),
             ("the run page with 100,000 points as HTML", "/runs/{long}"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], cpus: set[int], ready: str, log: Path) -> subprocess.Popen[bytes]:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "MLFLOW_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = env["DO_NOT_TRACK"] = "true"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[2:4]} exited {proc.returncode}: "
                               f"{log.read_text(errors='replace')[-500:]}")
        try:
            if httpx.get(ready, timeout=5).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"{cmd[2:4]} did not answer {ready} within 120 s")


def _timed(client: Any, method: str, url: str, body: Any = None) -> tuple[float | None, Any]:
    t = time.perf_counter()
    try:
        r = client.request(method, url, json=body)
        ms = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            return None, f"HTTP {r.status_code}: {r.text[:200]}"
        return ms, r
    except Exception as exc:  # a request that breaks is a failed measurement
        return None, f"{type(exc).__name__}: {exc}"


def _names(side: str, response: Any) -> list[str]:
    data = response.json()
    if side == "modelyard":
        return [r["name"] for r in data["runs"]]
    return [r["info"]["run_name"] for r in data.get("runs", [])]


def _browser(url: str, repeat: int) -> dict[str, Any]:
    """Navigation to the frame after ``load`` with the curves in the page, ``repeat`` times
    after one warm-up, in Debian's chromium; also the browser's own first contentful paint
    and load event end (ms after navigation start)."""
    chromium = os.environ.get("MODELYARD_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        return {"failed": f"no browser at {chromium}"}
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"wall_ms": [], "fcp_ms": [], "load_ms": [], "errors": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"])
        out["chromium"] = browser.version
        page = browser.new_page()
        page.on("pageerror", lambda e: out["errors"].append(str(e)))
        for i in range(repeat + 1):
            t = time.perf_counter()
            try:
                page.goto(url, wait_until="load", timeout=60_000)
                page.wait_for_selector("#curves svg", timeout=60_000)
                page.evaluate("() => new Promise(r => requestAnimationFrame("
                              "() => requestAnimationFrame(r)))")
                wall = (time.perf_counter() - t) * 1000
                timing = page.evaluate(
                    "() => ({fcp: (performance.getEntriesByName('first-contentful-paint')[0]"
                    " || {}).startTime, load: performance.getEntriesByType('navigation')[0]"
                    ".loadEventEnd, svgs: document.querySelectorAll('#curves svg').length,"
                    " shown: [...document.querySelectorAll('#curves figure')].reduce("
                    "(n, f) => n + Number(f.dataset.shown || 0), 0),"
                    " points: [...document.querySelectorAll('#curves figure')].reduce("
                    "(n, f) => n + Number(f.dataset.points || 0), 0)})")
            except Exception as exc:
                wall, timing = None, {"fcp": None, "load": None, "svgs": 0, "shown": 0,
                                      "points": 0}
                out["errors"].append(f"{type(exc).__name__}: {exc}")
            if i:  # the first load warms the server and the browser
                out["wall_ms"].append(wall)
                out["fcp_ms"].append(timing["fcp"])
                out["load_ms"].append(timing["load"])
                out["svgs"] = timing["svgs"]
                out["drawn_points"], out["logged_points"] = timing["shown"], timing["points"]
        browser.close()
    return out


def _versions(mlflow_python: str) -> dict[str, str]:
    from importlib.metadata import version

    found = {"modelyard": version("modelyard"), "playwright": version("playwright")}
    code = ("import mlflow, sqlite3, sqlalchemy; print(mlflow.__version__, "
            "sqlite3.sqlite_version, sqlalchemy.__version__)")
    got = subprocess.run([mlflow_python, "-c", code], capture_output=True, text=True)
    if got.returncode == 0:
        mv, msq, msa = got.stdout.split()
        found |= {"mlflow": mv, "sqlite (MLflow side)": msq, "sqlalchemy (MLflow side)": msa}
    import sqlite3

    import sqlalchemy
    found |= {"sqlite (modelyard side)": sqlite3.sqlite_version,
              "sqlalchemy (modelyard side)": sqlalchemy.__version__}
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from _report import machine

    root = args.project or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-ui-{os.getpid()}"
    ours, theirs = root / "modelyard", root / "mlflow"
    doc: dict[str, Any] = {"runs": args.runs, "repeat": args.repeat, "cpus": args.cpus,
                           "machine": machine(), "fill": {}}
    marker = ours / "bench-long-run.txt"
    if not marker.exists():
        ours.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        marker.write_text(fill(ours, args.runs))
        doc["fill"]["modelyard_s"] = round(time.perf_counter() - t, 1)
    if not (theirs / "mlflow.db").exists():
        theirs.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        subprocess.run([args.mlflow_python, __file__, "fill-mlflow", "--db",
                        str(theirs / "mlflow.db"), "--runs", str(args.runs)], check=True)
        doc["fill"]["mlflow_s"] = round(time.perf_counter() - t, 1)
    long_id = marker.read_text().strip()
    doc["versions"] = _versions(args.mlflow_python)
    cpus = set(range(min(args.cpus, os.cpu_count() or 1)))
    ports = {"modelyard": _free_port(), "mlflow": _free_port()}
    base = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    procs = []
    try:
        procs.append(_start([sys.executable, "-m", "modelyard", "ui", "--port",
                             str(ports["modelyard"]), "--project", str(ours)], cpus,
                            base["modelyard"] + "/login", root / "modelyard-ui.log"))
        procs.append(_start([args.mlflow_python, "-m", "mlflow", "server",
                             "--backend-store-uri", f"sqlite:///{theirs / 'mlflow.db'}",
                             "--default-artifact-root", str(theirs / "mlruns"),
                             "--host", "127.0.0.1", "--port", str(ports["mlflow"]),
                             "--workers", "1"], cpus, base["mlflow"] + "/health",
                            root / "mlflow-server.log"))
        with httpx.Client(timeout=120) as client:
            exps = client.get(base["mlflow"] + "/ajax-api/2.0/mlflow/experiments/search",
                              params={"max_results": 1000}).json()["experiments"]
            ids = [e["experiment_id"] for e in exps]
            requests = {label: {
                "modelyard": ("GET", f"{base['modelyard']}/api/runs?{query}", None),
                "mlflow": ("POST", base["mlflow"] + "/ajax-api/2.0/mlflow/runs/search",
                           {"experiment_ids": ids, "max_results": 50, **body})}
                for label, query, body in COMPARED}
            for label, path in OURS_ONLY:
                requests[label] = {"modelyard": (
                    "GET", base["modelyard"] + path.format(long=long_id), None)}
            samples: dict[str, dict[str, list[float | None]]] = {
                label: {side: [] for side in sides} for label, sides in requests.items()}
            first: dict[str, dict[str, Any]] = {label: {} for label in requests}
            errors: list[str] = []
            for label, sides in requests.items():  # warm: each query plan's first use
                for side, (method, url, body) in sides.items():
                    ms, got = _timed(client, method, url, body)
                    if ms is None:
                        errors.append(f"{side}, {label}: {got}")
                    else:
                        first[label][side] = {"bytes": len(got.content)}
                        if label in dict((c[0], 1) for c in COMPARED):
                            first[label][side]["names"] = _names(side, got)
            for rnd in range(args.repeat):
                for label, sides in requests.items():
                    order = list(sides) if rnd % 2 == 0 else list(sides)[::-1]
                    for side in order:
                        method, url, body = sides[side]
                        ms, got = _timed(client, method, url, body)
                        samples[label][side].append(ms)
                        if ms is None:
                            errors.append(f"{side}, {label}, round {rnd + 1}: {got}")
        doc["browser"] = _browser(f"{base['modelyard']}/runs/{long_id}", args.repeat)
    except Exception as exc:
        doc["failed"] = f"{type(exc).__name__}: {exc}"
        samples, first, errors = {}, {}, []
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    doc |= {"samples": samples, "first_pages": first, "errors": errors,
            "machine_after": machine()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc


# -- report ---------------------------------------------------------------------------------

SECTION = "## Dashboard: the runs page with 10,000 runs, modelyard vs MLflow"
TARGET_MS, DRAW_TARGET_MS = 300.0, 1000.0


def _load(m: dict[str, Any]) -> str:
    return m["uptime"].split("load average:")[-1].strip()


def _ratio(ours: list[float | None], theirs: list[float | None]) -> dict[str, Any]:
    """MLflow's time over modelyard's, round by round (a failed side makes no ratio)."""
    from _report import summary

    pairs = [b / a for a, b in zip(ours, theirs, strict=False) if a and b is not None]
    return summary(pairs) if pairs else summary([None])


def report(path: Path, page: Path | None, markdown: Path | None) -> str:
    from _report import fmt, spread, summary, verdict

    doc = json.loads(path.read_text(encoding="utf-8"))
    m, after, v = doc["machine"], doc["machine_after"], doc.get("versions", {})
    rows = doc["runs"] * N_PARAMS
    lines = [SECTION, "",
             f"Written by `benchmarks/bench_ui.py report` from the run of {m['date']}. "
             f"Machine: {m['cpus']} of {m['cpu_count']} cores usable, {m['platform']}, "
             f"Python {m['python']}; both servers pinned to the same {doc['cpus']} core(s), the "
             f"client and the browser on the same machine. Load at the start "
             f"`{_load(m)}`, at the end `{_load(after)}` (`uptime`; other work shared the "
             "cores).",
             "", "Versions: " + ", ".join(f"{k} {x}" for k, x in v.items())
             + (f", chromium {doc['browser']['chromium']}" if doc.get("browser", {})
                .get("chromium") else "") + ".", "",
             f"The store: {doc['runs']:,} runs, each with {N_PARAMS} params and {N_METRICS} "
             f"metrics of {N_STEPS} steps ({doc['runs'] * N_METRICS * N_STEPS:,} metric rows, "
             f"{rows:,} params), in 10 experiments, plus one run with "
             f"{LONG_KEYS * LONG_STEPS:,} metric points; the same runs, names and values in "
             "modelyard's SQLite store and in an MLflow SQLite store (MLflow's own schema, "
             "every metric value and its `latest_metrics`). modelyard: `modelyard ui`, "
             "`GET /api/runs` (50 a page, with the total count); MLflow: `mlflow server "
             "--backend-store-uri sqlite:///...`, `POST /ajax-api/2.0/mlflow/runs/search` "
             "over every experiment, `max_results` 50 (the endpoint MLflow's own UI calls). "
             f"{doc['repeat']} rounds, one request of each kind per side per round after one "
             "warm-up request each, the sides' order alternating; figures are the median "
             "(min-max) in ms.", ""]
    if doc.get("failed"):
        lines += [f"**The run failed**: {doc['failed']}. No figure is reported.", ""]
        return _write(lines, page, markdown)
    lines += ["| request | modelyard ms | MLflow ms | MLflow ÷ modelyard (per round) "
              "| same first page | modelyard under 300 ms |",
              "| --- | ---: | ---: | ---: | --- | --- |"]
    verdicts: list[tuple[str, str]] = []
    for label, sides in doc["samples"].items():
        ours = summary(sides["modelyard"])
        html = "HTML" in label
        target = "" if "100,000" in label else verdict(ours["median"], TARGET_MS,
                                                      higher_is_better=False)
        if target:
            verdicts.append((label, target))
        if "mlflow" in sides:
            theirs = summary(sides["mlflow"])
            first = doc["first_pages"].get(label, {})
            a, b = first.get("modelyard", {}).get("names"), first.get("mlflow", {}).get("names")
            same = ("yes (50 of 50)" if a and a == b else
                    f"**no**: {sum(x == y for x, y in zip(a, b, strict=False))} of "
                    f"{max(len(a), len(b))} in the same place" if a and b else "n/a")
            lines.append(f"| {label} | {spread(ours)} | {spread(theirs)} | "
                         f"{spread(_ratio(sides['modelyard'], sides['mlflow']), 'x')} | "
                         f"{same} | {target} |")
        else:
            lines.append(f"| {label} (modelyard only) | {spread(ours)} | | | | "
                         f"{target or ('no target' if html else '')} |")
    lines.append("")
    met = [lab for lab, x in verdicts if x == "met"]
    lines.append(f"Target, the runs page's data under {fmt(TARGET_MS)} ms on "
                 f"{doc['cpus']} cores (median): met for {len(met)} of {len(verdicts)} "
                 "requests" + ("." if len(met) == len(verdicts) else "; **not met** for: "
                               + "; ".join(lab for lab, x in verdicts if x != "met") + "."))
    compared = [lab for lab, sides in doc["samples"].items() if "mlflow" in sides]
    if compared:
        ratios = [_ratio(doc["samples"][lab]["modelyard"], doc["samples"][lab]["mlflow"])
                  for lab in compared]
        lines.append("MLflow's search against modelyard's for the same first page, median "
                     "of the per-round ratios: " + "; ".join(
                         f"{lab}: {spread(r, 'x')}" for lab, r in zip(compared, ratios,
                                                                      strict=True)) + ".")
    b = doc.get("browser", {})
    if b.get("failed") or not b.get("wall_ms"):
        lines += ["", f"The run page in the browser: **failed** ({b.get('failed') or b})."]
    else:
        wall = summary(b["wall_ms"])
        lines += ["", f"The run page with {LONG_KEYS * LONG_STEPS:,} metric points in "
                  f"chromium (headless, Playwright), from navigation until the frame after "
                  f"the `load` event with its {b.get('svgs', 0)} curves in the page"
                  + (f" (drawn from {b['drawn_points']:,} of the {b['logged_points']:,} "
                     "logged points: at most 1,000 per curve, each span's lowest and highest "
                     "value)" if b.get("logged_points") else "") + ", "
                  f"{len(b['wall_ms'])} loads after a warm-up: {spread(wall, ' ms')}; the "
                  f"browser's own first contentful paint {spread(summary(b['fcp_ms']), ' ms')}"
                  f" and load event end {spread(summary(b['load_ms']), ' ms')} after "
                  f"navigation start. Target, drawn in under {fmt(DRAW_TARGET_MS)} ms "
                  f"(median): {verdict(wall['median'], DRAW_TARGET_MS, higher_is_better=False)}"
                  "." + (f" Page errors: {'; '.join(b['errors'])}." if b.get("errors")
                         else " No page errors.")]
    if doc.get("errors"):
        lines += ["", "Failed requests (each counted as failed in its median):", "",
                  *[f"- {e}" for e in doc["errors"]]]
    fill_s = doc.get("fill", {})
    if fill_s:
        lines += ["", "Filling the stores (bulk writes, not part of the figures): " + ", ".join(
            f"{k.split('_')[0]} {fmt(x)} s" for k, x in fill_s.items()) + "."]
    return _write(lines, page, markdown)


def _write(lines: list[str], page: Path | None, markdown: Path | None) -> str:
    from _report import replace_section

    lines += ["", "Reproduce: `python3 -m venv /tmp/venv-mlflow && /tmp/venv-mlflow/bin/pip "
              "install mlflow`, then `.venv/bin/python benchmarks/bench_ui.py run "
              "--mlflow-python /tmp/venv-mlflow/bin/python --out benchmarks/results/ui.json` "
              "and `.venv/bin/python benchmarks/bench_ui.py report benchmarks/results/ui.json "
              "--page docs/benchmarks/ui.md --markdown docs/BENCHMARKS.md`.", ""]
    text = "\n".join(lines)
    if markdown is not None:
        replace_section(markdown, SECTION, text)
    if page is not None:
        page.write_text("# Dashboard benchmark\n\nGenerated; do not edit by hand.\n\n" + text,
                        encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--runs", type=int, default=10_000)
    r.add_argument("--repeat", type=int, default=5, help="rounds (at least 3)")
    r.add_argument("--cpus", type=int, default=2, help="cores each server may use")
    r.add_argument("--project", type=Path, help="keep (or reuse) both stores in this folder")
    r.add_argument("--mlflow-python", required=True, help="Python of an environment with MLflow")
    r.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("fill-mlflow")
    f.add_argument("--db", type=Path, required=True)
    f.add_argument("--runs", type=int, required=True)
    p = sub.add_parser("report")
    p.add_argument("path", type=Path)
    p.add_argument("--page", type=Path)
    p.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        if args.repeat < 3:
            parser.error("--repeat is at least 3 (each side measured at least 3 times)")
        run(args)
        print(report(args.out, None, None))
    elif args.command == "fill-mlflow":
        fill_mlflow(args.db, args.runs)
    else:
        print(report(args.path, args.page, args.markdown))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
