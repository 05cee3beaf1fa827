"""The image-classification recipe: digits for the quick path, MNIST's loader on a slice,
PNG/base64 at the client edge, and the CNN (when torch is installed)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

import modelyard
from modelyard.errors import InvalidInput
from modelyard.recipes import RecipeOptions, get_recipe
from modelyard.recipes._images_data import (
    decode_png,
    encode_png,
    image_frame,
    image_record,
    load_digits_split,
    load_mnist,
)
from modelyard.recipes.images import run_on, shift_images


def test_png_round_trip_and_records() -> None:
    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    png = encode_png(image)
    assert np.abs(decode_png(png) - image).max() <= 1 / 255
    text = base64.b64encode(png).decode()
    assert image_record(text, 8) == image_record(png, 8)
    assert list(image_record(image, 8))[:2] == ["px0", "px1"]
    with pytest.raises(InvalidInput, match="8x8"):
        image_record(np.zeros((28, 28)), 8)
    with pytest.raises(InvalidInput, match="not a PNG"):
        decode_png(b"GIF89a")


def test_shift_moves_ink_right_and_down() -> None:
    image = np.zeros((1, 16))
    image[0, 0] = 1.0
    assert shift_images(image, 4, 1).reshape(4, 4)[1, 1] == 1.0


def test_mnist_loader_reads_the_packaged_file() -> None:
    pytest.importorskip("mnist")
    parts = load_mnist(100)
    assert {k: v[0].shape for k, v in parts.items()} == {
        "train": (100, 784), "validation": (100, 784), "test": (100, 784)}
    assert parts["test"][1][:3].tolist() == [7, 2, 1]
    assert parts["train"][0].min() >= 0.0 and parts["train"][0].max() <= 1.0


def test_recipe_on_digits(yard: modelyard.Yard) -> None:
    # trials as `modelyard demo` passes them: neither model has a search space, none runs
    result = run_on(yard, RecipeOptions(rows=300, trials=8, loop=False, quiet=True), "digits")
    assert result.model == "digits"
    assert result.metrics["test_accuracy"] > 0.8
    assert result.metrics["api_latency_p50_ms"] > 0
    # chosen on validation accuracy; one run scored the official test set, for the champion
    selection = result.notes["selection"]
    assert selection["chosen"] == max(selection["validation"], key=selection["validation"].get)
    scoring = [r for r in yard.runs.list(experiment="digits")
               if r.tags.get("split") == "test"]
    assert [r.tags["scores"] for r in scoring] == [yard.models.get("digits@champion").ref]
    predictor = yard.models.load("digits@champion")
    test_x = load_digits_split()["test"][0]
    png = base64.b64encode(encode_png(test_x[0].reshape(8, 8))).decode()
    assert predictor.predict(image_record(png, 8))[0] == predictor.predict(
        image_frame(test_x[:1]))[0]
    # the version takes the image itself too: its signature has an 8x8 image field
    assert yard.models.get("digits@champion").signature["images"][0]["height"] == 8
    assert predictor.predict({"image": png})[0] == predictor.predict(image_frame(test_x[:1]))[0]
    assert get_recipe("images").name == "images"


def test_cnn_is_served_without_torch_state(yard: modelyard.Yard) -> None:
    pytest.importorskip("torch")
    from modelyard.recipes._images_cnn import ConvNetClassifier

    parts = load_digits_split()
    net = ConvNetClassifier(side=8, kernel=3, epochs=30, learning_rate=3e-3).fit(*parts["train"])
    test_x, test_y = parts["test"]
    assert np.mean(net.predict(test_x) == test_y) > 0.85
    version = yard.models.register("cnn", net, input_example=image_frame(test_x[:5]))
    loaded = yard.models.load(version.ref)
    assert np.allclose(loaded.predict_proba(image_frame(test_x[:20])),
                       net.predict_proba(test_x[:20]), atol=1e-6)
