"""Image inputs: one field of a request that holds a whole image, for a model whose inputs are
its pixel columns.

A model fitted on flattened images (MNIST's ``px0`` … ``px783``) has one float column per
pixel. Its signature can declare an :class:`ImageInput` over those columns; then a caller may
send ``{"image": <PNG as base64>}`` (also as a ``data:image/png;base64,`` URL), the pixels as
nested lists (``height`` rows of ``width`` values, or ``[row][col][channel]``) or as one flat
list, instead of the pixel columns. The image is turned into the pixel columns before the
usual checks, so the model, the prediction log and the monitor see pixels as before.

PNG decoding needs no imaging library: 8-bit grey, grey with alpha, RGB, RGBA and palette
images, every PNG filter, without interlacing. Colour is turned into grey with the ITU-R
BT.601 luma weights when the model takes one channel; alpha is dropped.

Example:
    >>> spec = ImageInput("image", height=2, width=2, columns=("a", "b", "c", "d"))
    >>> spec.pixels([[0, 255], [255, 0]]).tolist()
    [0.0, 255.0, 255.0, 0.0]
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput

__all__ = ["ImageInput", "decode_png", "encode_png"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_LUMA = np.array([0.299, 0.587, 0.114])
_Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class ImageInput:
    """An image field over a model's pixel columns.

    Attributes:
        name: the request field that holds the image (``image``).
        height: rows of pixels.
        width: pixels per row.
        columns: the model's pixel columns in row-major order (``channels`` values per pixel,
            channel fastest); ``height * width * channels`` names.
        channels: 1 (grey) or 3 (RGB).
        scale: what one PNG level (0-255) is in the model's units: ``1/255`` for pixels in
            [0, 1], ``1.0`` for 0-255. Arrays are taken in the model's units as they are.
    """

    name: str
    height: int
    width: int
    columns: tuple[str, ...]
    channels: int = 1
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise InvalidInput(f"image {self.name!r}: channels must be 1 or 3, not "
                               f"{self.channels}")
        if self.height < 1 or self.width < 1:
            raise InvalidInput(f"image {self.name!r}: height and width must be positive")
        if len(self.columns) != self.height * self.width * self.channels:
            raise InvalidInput(
                f"image {self.name!r} of {self.height}x{self.width}x{self.channels} needs "
                f"{self.height * self.width * self.channels} pixel columns, not "
                f"{len(self.columns)}")

    @property
    def shape(self) -> str:
        """``28x28`` or ``32x32x3``."""
        return f"{self.height}x{self.width}" + (f"x{self.channels}" if self.channels > 1
                                                else "")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the signature."""
        return {"name": self.name, "height": self.height, "width": self.width,
                "channels": self.channels, "scale": self.scale, "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageInput:
        """Read the JSON form back."""
        return cls(name=str(data["name"]), height=int(data["height"]),
                   width=int(data["width"]), columns=tuple(str(c) for c in data["columns"]),
                   channels=int(data.get("channels", 1)), scale=float(data.get("scale", 1.0)))

    def pixels(self, value: Any) -> _Array:
        """The pixel columns' values (float64, ``len(columns)``) of one image field.

        Raises:
            InvalidInput: the value is not a PNG, nor an array of this image's size.
        """
        if isinstance(value, bytes | bytearray | str):
            data = bytes(value) if not isinstance(value, str) else _base64(value, self.name)
            try:
                return self._from_png(data)
            except InvalidInput as exc:
                raise InvalidInput(f"field {self.name!r}: {exc}") from None
        wrong = InvalidInput(f"field {self.name!r} must be a PNG as base64 text or the pixels "
                             f"as numbers ({self.shape}); got {_kind(value)}")
        if not isinstance(value, list | tuple | np.ndarray):
            raise wrong
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise wrong from None
        size = len(self.columns)
        shapes = {(size,), (self.height, self.width, self.channels)}
        if self.channels == 1:
            shapes.add((self.height, self.width))
        if array.shape not in shapes:
            raise InvalidInput(
                f"field {self.name!r} must hold a {self.shape} image ({size} values, flat or "
                f"as rows); got an array of shape {'x'.join(map(str, array.shape)) or '()'}")
        if not np.isfinite(array).all():
            raise InvalidInput(f"field {self.name!r} holds values that are not finite numbers")
        return array.reshape(size)

    def _from_png(self, data: bytes) -> _Array:
        image = decode_png(data)
        height, width, samples = image.shape
        if (height, width) != (self.height, self.width):
            raise InvalidInput(
                f"the PNG is {width} wide and {height} high; this model takes "
                f"{self.width}x{self.height} images (resize it first)")
        colour = image[..., :3] if samples >= 3 else image[..., :1]
        if self.channels == 1 and colour.shape[-1] == 3:
            colour = (colour @ _LUMA)[..., None]
        elif self.channels == 3 and colour.shape[-1] == 1:
            colour = np.repeat(colour, 3, axis=-1)
        return (colour.astype(np.float64) * self.scale).reshape(len(self.columns))


_JSON_KINDS = {"NoneType": "null", "dict": "an object", "bool": "a boolean", "int": "a number",
               "float": "a number"}


def _kind(value: Any) -> str:
    name = type(value).__name__
    return _JSON_KINDS.get(name, name)


def _base64(text: str, name: str) -> bytes:
    if text.startswith("data:"):
        head, _, text = text.partition(",")
        if ";base64" not in head:
            raise InvalidInput(f"field {name!r}: a data URL must be base64 "
                               "(data:image/png;base64,...)")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"field {name!r} is text but not base64; send the PNG file's bytes "
                           "as base64, or the pixels as numbers") from None


def encode_png(image: Any) -> bytes:
    """An 8-bit PNG of an image: 2-D (grey) or ``[row][col][3 or 4]`` (RGB, RGBA); floats are
    taken as [0, 1], integers as 0-255."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        colour = 2 if array.shape[-1] == 3 else 6
    elif array.ndim == 2:
        colour = 0
    else:
        raise InvalidInput(f"encode_png takes a 2-D grey or an RGB/RGBA image, not shape "
                           f"{array.shape}")
    if array.dtype.kind == "f":
        array = np.clip(np.rint(array * 255), 0, 255)
    pixels = array.astype(np.uint8)
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    scanlines = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (_PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines))
            + chunk(b"IEND", b""))


def decode_png(data: bytes) -> _Array:
    """The pixels of an 8-bit PNG as ``uint8`` of shape (height, width, samples): 1 for
    grey, 2 for grey and alpha, 3 for RGB (and palette images), 4 for RGBA.

    Raises:
        InvalidInput: not a PNG, a damaged one, or a kind this reader does not take
            (16-bit or fewer than 8 bits per sample, interlaced).
    """
    if not data.startswith(_PNG_MAGIC):
        raise InvalidInput("not a PNG: the data does not start with the PNG signature")
    pos, idat, header, palette = len(_PNG_MAGIC), bytearray(), b"", b""
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if len(header) != 13:
        raise InvalidInput("not a PNG: it has no IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise InvalidInput(
            f"only 8-bit, non-interlaced PNGs are read (this one has {depth} bits per sample"
            f"{', interlacing' if interlace else ''}, colour type {colour}); save it as an "
            "8-bit PNG")
    if width * height > 4096 * 4096:
        raise InvalidInput(f"the PNG is {width}x{height}; images over 4096x4096 are refused")
    samples = _CHANNELS[colour]
    stride = width * samples
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error:
        raise InvalidInput("the PNG's image data is damaged (zlib could not read it)") from None
    if len(raw) != height * (stride + 1):
        raise InvalidInput(f"the PNG's image data holds {len(raw)} bytes, not the "
                           f"{height * (stride + 1)} a {width}x{height} image needs")
    lines = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = _unfilter(lines[:, 0], lines[:, 1:], samples)
    if colour == 3:
        table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3) if palette else None
        if table is None or int(out.max(initial=0)) >= len(table):
            raise InvalidInput("the palette PNG has no palette (PLTE) entry for some pixels")
        return table[out.reshape(height, width)]
    return out.reshape(height, width, samples)


def _unfilter(kinds: _Array, filtered: _Array, bpp: int) -> _Array:
    """Undo the PNG filter of each scanline (`None`, `Sub`, `Up` vectorised; `Average` and
    `Paeth` one byte at a time, as they depend on the byte just decoded)."""
    height, stride = filtered.shape
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = int(kinds[y]), filtered[y]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # each byte adds the decoded byte bpp to its left: a strided cumsum
            padded = np.zeros(-(-stride // bpp) * bpp, dtype=np.int64)
            padded[:stride] = line
            row = (padded.reshape(-1, bpp).cumsum(axis=0).reshape(-1)[:stride] & 0xFF
                   ).astype(np.uint8)
        elif kind == 2:
            row = (line.astype(np.int64) + prior).astype(np.uint8)
        elif kind in (3, 4):
            row = _serial(kind, line, prior, bpp)
        else:
            raise InvalidInput(f"the PNG has an unknown filter type {kind} on row {y}")
        out[y], prior = row, row
    return out


def _serial(kind: int, line: _Array, prior: _Array, bpp: int) -> _Array:
    cur = [0] * len(line)
    up_row = prior.tolist()
    for x, byte in enumerate(line.tolist()):
        left = cur[x - bpp] if x >= bpp else 0
        up = up_row[x]
        if kind == 3:
            guess = (left + up) >> 1
        else:
            corner = up_row[x - bpp] if x >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            guess = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
        cur[x] = (byte + guess) & 0xFF
    return np.array(cur, dtype=np.uint8)
