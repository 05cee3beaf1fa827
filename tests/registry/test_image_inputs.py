"""Image inputs: the PNG reader on every filter and colour type, the image field in the
signature, and predictions from a PNG, base64 text or an array, in the SDK and over the API."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.errors import InvalidInput
from modelyard.registry import ImageInput, Signature, decode_png, encode_png, infer_signature
from modelyard.serve import create_app


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _png(pixels: np.ndarray, colour: int, filters: list[int], palette: bytes = b"") -> bytes:
    """A PNG written the slow, obvious way, each row with the filter given (cycled)."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).astype(int)
    bpp = rows.shape[1] // width
    out = b""
    prior = [0] * rows.shape[1]
    for y, row in enumerate(rows.tolist()):
        kind = filters[y % len(filters)]
        line = []
        for x, value in enumerate(row):
            left = row[x - bpp] if x >= bpp else 0
            up = prior[x]
            corner = prior[x - bpp] if x >= bpp else 0
            guess = [0, left, up, (left + up) // 2, _paeth(left, up, corner)][kind]
            line.append((value - guess) % 256)
        out += bytes([kind, *line])
        prior = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + (chunk(b"PLTE", palette) if palette else b"")
            + chunk(b"IDAT", zlib.compress(out)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("colour", "samples"), [(0, 1), (4, 2), (2, 3), (6, 4)])
def test_every_filter_and_colour_type_decodes(colour: int, samples: int) -> None:
    rng = np.random.default_rng(colour)
    shape = (9, 7) if samples == 1 else (9, 7, samples)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    decoded = decode_png(_png(pixels, colour, [0, 1, 2, 3, 4]))
    assert np.array_equal(decoded, pixels.reshape(9, 7, samples))


def test_palette_images_decode_to_rgb() -> None:
    table = np.array([[0, 0, 0], [255, 0, 0], [10, 200, 30]], dtype=np.uint8)
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    decoded = decode_png(_png(index, 3, [1, 4], palette=table.tobytes()))
    assert np.array_equal(decoded, table[index])


def test_encode_round_trips_grey_and_rgb() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    assert np.array_equal(decode_png(encode_png(grey))[..., 0], grey)
    rgb = np.stack([grey, 255 - grey, grey // 2], axis=-1)
    assert np.array_equal(decode_png(encode_png(rgb)), rgb)


@pytest.mark.parametrize(("data", "message"), [
    (b"GIF89a....", "not a PNG"),
    (b"\x89PNG\r\n\x1a\n", "no IHDR"),
])
def test_what_is_not_a_readable_png_is_named(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_png(data)


def test_a_16_bit_png_is_refused_with_what_to_do() -> None:
    png = bytearray(encode_png(np.zeros((2, 2), dtype=np.uint8)))
    png[8 + 8 + 8] = 16  # the IHDR's bit depth
    with pytest.raises(InvalidInput, match=r"only 8-bit.*16 bits per sample.*save it as an 8-bit"):
        decode_png(bytes(png))


# -- the signature and the predictor ------------------------------------------------------

def _digits() -> tuple[pd.DataFrame, np.ndarray, Any]:
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X / 16.0, columns=[f"px{i}" for i in range(64)])
    return frame, y, LogisticRegression(max_iter=300).fit(frame, y)


def test_the_image_field_is_stored_with_the_signature() -> None:
    frame, _, model = _digits()
    sig = infer_signature(frame.head(), model).with_image("image", height=8, width=8,
                                                          scale=1 / 255)
    again = Signature.from_dict(sig.to_dict())
    assert again.images == sig.images and again.images[0].shape == "8x8"
    with pytest.raises(InvalidInput, match="needs 64 pixel columns, not 63"):
        infer_signature(frame.head(), model).with_image(
            "image", height=8, width=8, columns=list(frame.columns[:63]))
    with pytest.raises(InvalidInput, match="name of an input column"):
        infer_signature(frame.head(), model).with_image("px3", height=8, width=8)


def test_predictions_from_a_png_base64_an_array_and_pixels_agree(yard: modelyard.Yard) -> None:
    frame, _, model = _digits()
    sig = infer_signature(frame.head(), model).with_image("image", height=8, width=8,
                                                          scale=1 / 255)
    yard.models.register("digits", model, signature=sig, input_example=frame.head())
    predictor = yard.models.load("digits@latest")
    images = np.rint(frame.head(20).to_numpy() * 255).astype(np.uint8).reshape(-1, 8, 8)
    pixels = pd.DataFrame(images.reshape(20, 64) / 255, columns=frame.columns)
    expected = predictor.predict(pixels)
    pngs = [encode_png(image) for image in images]
    as_text = [{"image": base64.b64encode(png).decode()} for png in pngs]
    assert (predictor.predict(as_text) == expected).all()
    assert (predictor.predict([{"image": png} for png in pngs]) == expected).all()
    arrays = [{"image": (image / 255).tolist()} for image in images]
    assert (predictor.predict(arrays) == expected).all()
    assert predictor.predict({"image": "data:image/png;base64," + as_text[3]["image"]})[0] \
        == expected[3]
    with pytest.raises(InvalidInput, match="the PNG is 9 wide and 8 high"):
        predictor.predict({"image": encode_png(np.zeros((8, 9), dtype=np.uint8))})


def test_the_api_takes_images_and_names_bad_ones(yard: modelyard.Yard) -> None:
    frame, _, model = _digits()
    sig = infer_signature(frame.head(), model).with_image("image", height=8, width=8,
                                                          scale=1 / 255)
    yard.models.register("digits", model, signature=sig, input_example=frame.head())
    images = np.rint(frame.head(6).to_numpy() * 255).astype(np.uint8).reshape(-1, 8, 8)
    expected = yard.models.load("digits@latest").predict(
        pd.DataFrame(images.reshape(6, 64) / 255, columns=frame.columns)).tolist()
    app = create_app(yard, ["digits@latest"])

    async def test(client: httpx.AsyncClient) -> None:
        url = "/v1/models/digits/predict"
        body = [{"image": base64.b64encode(encode_png(i)).decode()} for i in images]
        answer = await client.post(url, json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected
        mixed = [{"image": (images[0] / 255).tolist()},
                 dict(zip(frame.columns, (images[1] / 255).ravel().tolist(), strict=True))]
        answer = await client.post(url, json=mixed)
        assert answer.json()["predictions"] == expected[:2]
        for bad, said in [({"image": "%%%"}, "not base64"),
                          ({"image": [[1, 2]]}, "must hold a 8x8 image"),
                          ([{"image": None}, {"image": None}], "record 0: field 'image'"),
                          ({"image": base64.b64encode(b"GIF89a").decode()}, "not a PNG")]:
            answer = await client.post(url, json=bad)
            assert answer.status_code == 422, answer.text
            assert said in answer.json()["message"]
        schema = (await client.get("/openapi.json")).json()
        assert "contentMediaType" in str(schema) and "image/png" in str(schema)

    in_process(app, test)


def test_image_input_rejects_wrong_settings() -> None:
    with pytest.raises(InvalidInput, match="channels must be 1 or 3"):
        ImageInput("image", height=2, width=2, columns=("a",) * 8, channels=2)


def test_a_spec_image_table_needs_its_size() -> None:
    from modelyard.train import load_spec

    raw = {"model": "digits", "dataset": "digits@latest", "target": "digit",
           "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
           "image": {"height": 8}}
    with pytest.raises(InvalidInput, match=r"\[image\] needs height and width"):
        load_spec(raw)
    raw["image"] = {"height": 8, "width": 8, "scale": 1 / 255}
    assert load_spec(raw).image == {"height": 8, "width": 8, "scale": 1 / 255}
