"""Image inputs: one field of a request that holds a whole image, for a model whose inputs are
its pixel columns.

A model fitted on flattened images (MNIST's ``px0`` … ``px783``) has one float column per
pixel. Its signature can declare an :class:`ImageInput` over those columns; then a caller may
send the image file itself (PNG or JPEG: raw bytes, an upload, base64 text or a
``data:image/...;base64,`` URL), the pixels as nested lists (``height`` rows of ``width``
values, or ``[row][col][channel]``) or as one flat list, instead of the pixel columns. The
image becomes the pixel columns before the usual checks, so the model, the prediction log and
the monitor see pixels as before.

Files are decoded by Pillow, never by hand, and never blindly: the size the file's header
declares is checked against a pixel budget (:data:`MAX_IMAGE_PIXELS`) before a single pixel
is inflated, so a small file that would expand to gigabytes (a "decompression bomb") costs
a header read. Any size within the budget is resized to the signature's; colour becomes grey
(ITU-R BT.601 luma, as Pillow's ``L`` mode) when the model takes one channel; alpha is
dropped; a JPEG's EXIF orientation is applied.

Example:
    >>> spec = ImageInput("image", height=2, width=2, columns=("a", "b", "c", "d"))
    >>> spec.pixels([[0, 255], [255, 0]]).tolist()
    [0.0, 255.0, 255.0, 0.0]
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["MAX_IMAGE_PIXELS", "ImageInput", "ImageTooLarge", "decode_image", "encode_png"]

#: The largest image (width x height) decoded by default: 12 megapixels (4096x3072), so a
#: phone photo passes and a 4096x4096 canvas does not.
MAX_IMAGE_PIXELS = 4096 * 3072
_FORMATS = ("PNG", "JPEG")
_Array = np.ndarray[Any, Any]


class ImageTooLarge(InvalidInput):
    """An image whose declared size is over the pixel budget (413); nothing was decoded."""

    http_status = 413


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
        scale: what one 8-bit level (0-255) is in the model's units: ``1/255`` for pixels in
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

    def pixels(self, value: Any, *, max_pixels: int = MAX_IMAGE_PIXELS) -> _Array:
        """The pixel columns' values (float64, ``len(columns)``) of one image field.

        Args:
            value: PNG or JPEG bytes, their base64 text (or data URL), or the pixels.
            max_pixels: refuse a file whose header declares more pixels than this.

        Raises:
            ImageTooLarge: the file declares more than ``max_pixels`` pixels (413).
            InvalidInput: the value is not a readable image, nor an array of this size.
        """
        if isinstance(value, bytes | bytearray | memoryview | str):
            data = _base64(value, self.name) if isinstance(value, str) else bytes(value)
            try:
                array = decode_image(data, size=(self.width, self.height),
                                     channels=self.channels, max_pixels=max_pixels)
            except InvalidInput as exc:
                raise type(exc)(f"field {self.name!r}: {exc}") from None
            return array.astype(np.float64).reshape(len(self.columns)) * self.scale
        wrong = InvalidInput(f"field {self.name!r} must be a PNG or JPEG (as base64 text or an "
                             f"upload) or the pixels as numbers ({self.shape}); got "
                             f"{_kind(value)}")
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
        raise InvalidInput(f"field {name!r} is text but not base64; send the image file's "
                           "bytes as base64, or the pixels as numbers") from None


def _open(data: bytes, max_pixels: int) -> Image:
    """The image with only its header read, refused when it declares too many pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (far above ours) fired while reading the header
        raise ImageTooLarge(f"the image declares more than {max_pixels:,} pixels, the most "
                            "this server decodes (its max_image_pixels setting); send it "
                            "smaller") from None
    except UnidentifiedImageError:
        raise InvalidInput("not a PNG or JPEG image (its first bytes are neither); send a "
                           "PNG or a JPEG file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"the image file is damaged ({exc}); send a PNG or JPEG file"
                           ) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageTooLarge(f"the image is {width}x{height} ({width * height:,} pixels); the "
                            f"most this server decodes is {max_pixels:,} pixels (its "
                            "max_image_pixels setting); send it smaller")
    if width < 1 or height < 1:
        raise InvalidInput(f"the image is {width}x{height}; it has no pixels")
    return image


def decode_image(data: bytes, *, size: tuple[int, int] | None = None, channels: int = 1,
                 max_pixels: int = MAX_IMAGE_PIXELS) -> _Array:
    """The pixels of a PNG or JPEG as ``uint8``, shape (height, width, channels).

    The header is read first: a file that declares more than ``max_pixels`` pixels is
    refused before anything is inflated. Then it is decoded, turned upright (JPEG EXIF),
    converted to grey (``channels=1``) or RGB (``channels=3``) and resized to ``size``.

    Args:
        data: the file's bytes.
        size: ``(width, height)`` to resize to; the file's own size when None.
        channels: 1 (grey) or 3 (RGB).
        max_pixels: the pixel budget (width x height as the header declares it).

    Returns:
        The pixels, 0-255.

    Raises:
        ImageTooLarge: over the pixel budget (413).
        InvalidInput: not a PNG or JPEG, or a damaged one.

    Example:
        >>> decode_image(encode_png(np.full((4, 6), 200, np.uint8)), size=(3, 2)).shape
        (2, 3, 1)
    """
    from PIL import Image, ImageOps

    image = _open(bytes(data), max_pixels)
    try:
        if size is not None and image.format == "JPEG":
            # decode the JPEG at the smallest DCT scale that is still at least `size`
            image.draft("L" if channels == 1 else "RGB", size)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: 0-65535 to 0-255
            scaled = np.rint(np.asarray(image, dtype=np.float64) / 257.0)
            image = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))
        if image.mode in ("P", "PA"):
            image = image.convert("RGBA")
        image = image.convert("L" if channels == 1 else "RGB")
        if size is not None and image.size != size:
            # shrinking averages each output pixel's area (as OpenCV's INTER_AREA does)
            shrink = image.size[0] >= size[0] and image.size[1] >= size[1]
            image = image.resize(size, Image.Resampling.BOX if shrink
                                 else Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"the image file is damaged or truncated ({exc}); send a whole "
                           "PNG or JPEG file") from None
    finally:
        image.close()
    return array.reshape(array.shape[0], array.shape[1], channels)


def encode_png(image: Any) -> bytes:
    """An 8-bit PNG of an image: 2-D (grey) or ``[row][col][3 or 4]`` (RGB, RGBA); floats
    are taken as [0, 1], integers as 0-255.

    Example:
        >>> encode_png(np.zeros((2, 2)))[:4]
        b'\\x89PNG'
    """
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise InvalidInput(f"encode_png takes a 2-D grey or an RGB/RGBA image, not shape "
                           f"{array.shape}")
    if array.dtype.kind == "f":
        array = np.clip(np.rint(array * 255), 0, 255)
    pixels = np.ascontiguousarray(array.astype(np.uint8))
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
