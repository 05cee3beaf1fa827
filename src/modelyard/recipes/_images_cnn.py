"""A small convolutional network with scikit-learn's contract: trained with PyTorch, served
with NumPy.

The layout is LeNet-5's (LeCun et al., 1998) with today's defaults: two 5x5 convolutions
(6 and 16 channels, same padding, ReLU, 2x2 max-pooling), then 120 and 84 fully connected
units and one output per class, trained with Adam and a cosine learning-rate decay.
``fit`` needs ``torch`` (the ``torch`` extra); the learned weights are then kept as NumPy
arrays. ``to_onnx`` writes the same network as an ONNX graph from those weights, so the
registry stores and serves a fitted network as ONNX (ONNX Runtime, batched) without PyTorch;
without onnxruntime it falls back to skops and ``predict`` runs the forward pass in NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import InvalidInput

__all__ = ["ConvNetClassifier"]

_Array = np.ndarray[Any, Any]
_CHUNK = 512
_WEIGHTS = ("conv1_w_", "conv1_b_", "conv2_w_", "conv2_b_", "fc1_w_", "fc1_b_", "fc2_w_",
            "fc2_b_", "fc3_w_", "fc3_b_")


def _conv(x: _Array, w: _Array, b: _Array) -> _Array:
    pad = w.shape[-1] // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, w.shape[-2:], axis=(2, 3))  # n, c, h, w, k, k
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # n, h, w, o
    return np.asarray(out.transpose(0, 3, 1, 2) + b[None, :, None, None])


def _pool(x: _Array) -> _Array:
    n, c, h, w = x.shape
    x = x[:, :, : h // 2 * 2, : w // 2 * 2]
    return np.asarray(x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5)))


class ConvNetClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """LeNet-5-style network for square grey-scale images given as flattened pixel rows.

    Args:
        side: the image side in pixels (28 for MNIST, 8 for scikit-learn's digits).
        kernel: the convolution size (5 as in LeNet-5; 3 suits 8x8 images).
        epochs: passes over the training data.
        batch_size: images per optimiser step.
        learning_rate: Adam's step size.
        random_state: seed of the initial weights and the batch order.

    Example:
        >>> net = ConvNetClassifier(side=8, kernel=3, epochs=1).fit(X, y)  # doctest: +SKIP
        >>> net.predict(X[:2])  # doctest: +SKIP
        array([0, 1])
    """

    def __init__(self, *, side: int = 28, kernel: int = 5, epochs: int = 4,
                 batch_size: int = 64, learning_rate: float = 1e-3,
                 random_state: int = 0) -> None:
        self.side = side
        self.kernel = kernel
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _images(self, X: Any) -> _Array:
        flat = np.asarray(X, dtype=np.float32)
        if flat.ndim != 2 or flat.shape[1] != self.side * self.side:
            raise InvalidInput(f"{type(self).__name__} takes rows of {self.side * self.side} "
                               f"pixels ({self.side}x{self.side}); got shape {flat.shape}")
        return flat.reshape(-1, 1, self.side, self.side)

    def fit(self, X: Any, y: Any) -> ConvNetClassifier:
        """Train with PyTorch (Adam, cross-entropy), then keep the weights as NumPy arrays.

        Raises:
            InvalidInput: torch is not installed, or the rows are not ``side**2`` pixels.
        """
        try:
            import torch
            from torch import nn
        except ImportError as exc:
            raise InvalidInput("ConvNetClassifier.fit needs PyTorch: pip install "
                               "'modelyard[torch]' (torch==2.13.0, the CPU build)") from exc
        images = self._images(X)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        torch.manual_seed(self.random_state)
        k, side = self.kernel, self.side
        flat = 16 * (side // 4) ** 2
        net = nn.Sequential(
            nn.Conv2d(1, 6, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, len(self.classes_)))
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        steps = self.epochs * -(-len(images) // self.batch_size)
        # Cosine decay to zero: the last epochs fine-tune instead of bouncing around.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(steps, 1))
        loss_fn = nn.CrossEntropyLoss()
        inputs = torch.from_numpy(np.ascontiguousarray(images))
        targets = torch.from_numpy(codes.astype(np.int64))
        generator = torch.Generator().manual_seed(self.random_state)
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(inputs), self.batch_size):
                batch = order[start:start + self.batch_size]
                optimiser.zero_grad()
                loss = loss_fn(net(inputs[batch]), targets[batch])
                loss.backward()
                optimiser.step()
                schedule.step()
        weights = [p.detach().numpy().astype(np.float32).copy() for p in net.parameters()]
        (self.conv1_w_, self.conv1_b_, self.conv2_w_, self.conv2_b_, self.fc1_w_, self.fc1_b_,
         self.fc2_w_, self.fc2_b_, self.fc3_w_, self.fc3_b_) = weights
        return self

    def _logits(self, images: _Array) -> _Array:
        # In float64: float32 BLAS kernels round differently with the arrays' memory
        # alignment, so the same weights gave metrics that differed in the 8th digit from
        # one process to the next, and a replay could not match the registered numbers.
        w = {k: np.asarray(getattr(self, k), dtype=np.float64) for k in _WEIGHTS}
        x = _pool(np.maximum(_conv(images.astype(np.float64), w["conv1_w_"], w["conv1_b_"]),
                             0))
        x = _pool(np.maximum(_conv(x, w["conv2_w_"], w["conv2_b_"]), 0))
        x = x.reshape(len(x), -1)
        x = np.maximum(x @ w["fc1_w_"].T + w["fc1_b_"], 0)
        x = np.maximum(x @ w["fc2_w_"].T + w["fc2_b_"], 0)
        return np.asarray(x @ w["fc3_w_"].T + w["fc3_b_"])

    def predict_proba(self, X: Any) -> _Array:
        """Class probabilities (softmax of the network's outputs), in ``classes_`` order."""
        if not hasattr(self, "fc3_w_"):
            raise InvalidInput("this ConvNetClassifier is not fitted yet; call fit first")
        images = self._images(X)
        logits = np.concatenate([self._logits(images[i:i + _CHUNK])
                                 for i in range(0, len(images), _CHUNK)])
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return np.asarray(odds / odds.sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> _Array:
        """The most likely class of each image."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])

    def to_onnx(self) -> bytes:
        """The fitted network as an ONNX graph (input ``[batch, 1, side, side]`` floats,
        output the class probabilities), built from the learned weights.

        Raises:
            InvalidInput: not fitted, or the ``onnx`` package is missing.

        Example:
            >>> graph = net.to_onnx()  # doctest: +SKIP
            >>> yard.models.register("digits", net, input_example=frame)  # ONNX  # doctest: +SKIP
        """
        if not hasattr(self, "fc3_w_"):
            raise InvalidInput("this ConvNetClassifier is not fitted yet; call fit first")
        try:
            import onnx
            from onnx import TensorProto, helper, numpy_helper
        except ImportError as exc:
            raise InvalidInput("ConvNetClassifier.to_onnx needs onnx: pip install "
                               "'modelyard[onnx]'") from exc
        pad = int(self.kernel) // 2
        weights = {"conv1_w": self.conv1_w_, "conv1_b": self.conv1_b_,
                   "conv2_w": self.conv2_w_, "conv2_b": self.conv2_b_,
                   "fc1_w": self.fc1_w_, "fc1_b": self.fc1_b_, "fc2_w": self.fc2_w_,
                   "fc2_b": self.fc2_b_, "fc3_w": self.fc3_w_, "fc3_b": self.fc3_b_}
        init = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k)
                for k, v in weights.items()]
        node = helper.make_node
        nodes = [
            node("Conv", ["input", "conv1_w", "conv1_b"], ["c1"], pads=[pad] * 4),
            node("Relu", ["c1"], ["r1"]),
            node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
            node("Conv", ["p1", "conv2_w", "conv2_b"], ["c2"], pads=[pad] * 4),
            node("Relu", ["c2"], ["r2"]),
            node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
            node("Flatten", ["p2"], ["flat"], axis=1),
            node("Gemm", ["flat", "fc1_w", "fc1_b"], ["g1"], transB=1),
            node("Relu", ["g1"], ["h1"]),
            node("Gemm", ["h1", "fc2_w", "fc2_b"], ["g2"], transB=1),
            node("Relu", ["g2"], ["h2"]),
            node("Gemm", ["h2", "fc3_w", "fc3_b"], ["logits"], transB=1),
            node("Softmax", ["logits"], ["probabilities"], axis=1),
        ]
        side = int(self.side)
        graph = helper.make_graph(
            nodes, "lenet5", [helper.make_tensor_value_info(
                "input", TensorProto.FLOAT, ["batch", 1, side, side])],
            [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                           ["batch", len(self.classes_)])], init)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                  producer_name="modelyard")
        model.ir_version = 8  # read by every ONNX Runtime since 1.10
        onnx.checker.check_model(model)
        return bytes(model.SerializeToString())
