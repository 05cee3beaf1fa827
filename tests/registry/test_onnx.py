"""ONNX versions: an ``.onnx`` file made at test time by skl2onnx, the same model converted at
registration, a network that exports itself (the images recipe's CNN), and a PyTorch module
where torch is installed; each predicts what the original does, in the SDK and over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

import modelyard
from _serving import in_process
from modelyard.errors import InvalidInput
from modelyard.registry import encode_png
from modelyard.serve import create_app

skl2onnx = pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


def _onnx_file(model: Any, width: int, path: Path, zipmap: bool = False) -> Path:
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(model): {"zipmap": zipmap}} if hasattr(model, "predict_proba") else None
    graph = skl2onnx.convert_sklearn(model, initial_types=[
        ("X", FloatTensorType([None, width]))], options=options)
    path.write_bytes(graph.SerializeToString())
    return path


def test_an_onnx_file_and_a_converted_model_predict_as_scikit_learn(
        yard: modelyard.Yard, tmp_path: Path, logreg: Pipeline,
        cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = cancer
    path = _onnx_file(logreg, X.shape[1], tmp_path / "cancer.onnx")
    from_file = yard.models.register("cancer", path, input_example=X.head(), classes=[0, 1])
    converted = yard.models.register("cancer", logreg, input_example=X.head(), format="onnx")
    expected = logreg.predict_proba(X)
    for version in (from_file, converted):
        assert version.format == "onnx"
        predictor = yard.models.load(version.ref)
        assert predictor.signature.columns == list(X.columns)  # named by the example
        assert predictor.classes == [0, 1]
        assert np.abs(predictor.predict_proba(X) - expected).max() < 1e-5
        assert (predictor.predict(X.head(50)) == logreg.predict(X.head(50))).all()
    assert from_file.flavor.endswith("PosixPath") or "Path" in from_file.flavor
    assert yard.models.get(converted.ref).extra["libraries"]["onnxruntime"]


def test_a_regression_graph_gives_values(yard: modelyard.Yard, tmp_path: Path,
                                         ridge: Ridge,
                                         diabetes: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = diabetes
    path = _onnx_file(ridge, X.shape[1], tmp_path / "ridge.onnx")
    version = yard.models.register("diabetes", path.read_bytes())  # bytes; no example
    assert version.signature["outputs"]["task"] == "regression"
    assert [c["name"] for c in version.signature["inputs"]][:2] == ["f0", "f1"]
    predictor = yard.models.load(version.ref)
    assert not predictor.has_predict_proba
    assert np.allclose(predictor.predict(X.to_numpy()), ridge.predict(X), atol=1e-3)


class _Unknown(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    def fit(self, X: Any, y: Any) -> _Unknown:
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.tile([1.0, 0.0], (len(X), 1))


def test_what_cannot_become_an_onnx_version_is_named(
        yard: modelyard.Yard, tmp_path: Path, logreg: Pipeline,
        cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    with pytest.raises(InvalidInput, match="no ONNX file at"):
        yard.models.register("m", tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(InvalidInput, match="ONNX Runtime cannot load this graph"):
        yard.models.register("m", tmp_path / "junk.onnx")
    zipped = _onnx_file(logreg, X.shape[1], tmp_path / "zip.onnx", zipmap=True)
    with pytest.raises(InvalidInput, match="zipmap"):
        yard.models.register("m", zipped)
    with pytest.raises(InvalidInput, match=r"cannot convert a _Unknown.*format='skops'"):
        yard.models.register("m", _Unknown().fit(X, y), input_example=X.head(), format="onnx")
    path = _onnx_file(logreg, X.shape[1], tmp_path / "ok.onnx")
    with pytest.raises(InvalidInput, match="classes names 3 labels, but the graph scores 2"):
        yard.models.register("m", path, classes=["a", "b", "c"])
    assert not [m.name for m in yard.models.list()]  # nothing half-registered


def _cnn(side: int = 8) -> Any:
    """The images recipe's network with seeded weights (no torch needed to build it)."""
    from modelyard.recipes._images_cnn import ConvNetClassifier

    rng = np.random.default_rng(0)
    net = ConvNetClassifier(side=side, kernel=3)
    shapes = {"conv1_w_": (6, 1, 3, 3), "conv1_b_": (6,), "conv2_w_": (16, 6, 3, 3),
              "conv2_b_": (16,), "fc1_w_": (120, 16 * (side // 4) ** 2), "fc1_b_": (120,),
              "fc2_w_": (84, 120), "fc2_b_": (84,), "fc3_w_": (10, 84), "fc3_b_": (10,)}
    for name, shape in shapes.items():
        setattr(net, name, (rng.normal(size=shape) * 0.3).astype(np.float32))
    net.classes_ = np.arange(10)
    return net


def test_the_recipe_cnn_is_served_as_onnx_from_uploaded_images(yard: modelyard.Yard) -> None:
    from sklearn.datasets import load_digits

    from modelyard.recipes._images_data import image_frame

    net = _cnn()
    images = load_digits().images[:12] / 16.0
    frame = image_frame(images.reshape(12, 64))
    signature = modelyard.registry.infer_signature(frame.head(), net).with_image(
        "image", height=8, width=8, scale=1 / 255)
    version = yard.models.register("digits", net, input_example=frame.head(),
                                   signature=signature)
    assert version.format == "onnx"
    assert version.extra["format_info"]["onnx_outputs"] == "probabilities"
    predictor = yard.models.load(version.ref)
    assert np.abs(predictor.predict_proba(frame) - net.predict_proba(frame)).max() < 1e-5
    pngs = [encode_png(np.rint(image * 255).astype(np.uint8)) for image in images]
    pixels = np.rint(images * 255).reshape(12, 64) / 255
    expected = net.predict(pixels).tolist()
    app = create_app(yard, ["digits@latest"])

    async def test(client: httpx.AsyncClient) -> None:
        url = "/v1/models/digits/predict"
        files = [("image", (f"{i}.png", png, "image/png")) for i, png in enumerate(pngs)]
        answer = await client.post(url, files=files)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected
        assert len(answer.json()["probabilities"][0]) == 10
        bad = await client.post(url, json={"px0": "dark"})
        assert bad.status_code == 422 and "px0" in bad.json()["message"]

    in_process(app, test)


def test_a_torch_module_is_exported_at_registration(yard: modelyard.Yard) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 8 * 8, 3))
    version = yard.models.register("torchy", net, input_example=torch.zeros(1, 1, 8, 8),
                                   classes=["a", "b", "c"])
    assert version.format == "onnx" and version.flavor == "torch.nn.modules.container.Sequential"
    assert version.signature["images"][0]["height"] == 8
    assert version.extra["libraries"]["torch"] == torch.__version__
    assert net.training  # left as it was handed in
    predictor = yard.models.load(version.ref)
    rows = np.random.default_rng(1).random((5, 64)).astype(np.float32)
    with torch.no_grad():
        logits = net.eval()(torch.from_numpy(rows.reshape(5, 1, 8, 8))).numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame(rows, columns=[f"px{i}" for i in range(64)])
    assert np.abs(predictor.predict_proba(frame) - expected).max() < 1e-4
    assert predictor.predict(frame).tolist() == [["a", "b", "c"][i]
                                                 for i in expected.argmax(axis=1)]
    with pytest.raises(InvalidInput, match="needs input_example"):
        yard.models.register("torchy", net)
