"""Image inputs: Pillow's decoding of every PNG colour type and JPEG within a pixel budget,
the image field in the signature, and predictions from a PNG, base64 text or an array, in the
SDK and over the API (uploads and the bounded decode over HTTP: tests/serve/test_images.py)."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.errors import InvalidInput
from modelyard.registry import (
    ImageInput,
    ImageTooLarge,
    Signature,
    decode_image,
    encode_png,
    infer_signature,
)
from modelyard.serve import create_app


def _file(pixels: np.ndarray, mode: str, fmt: str = "PNG", **options: Any) -> bytes:
    image = Image.fromarray(pixels)
    assert image.mode == mode
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(("mode", "samples"), [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
def test_every_colour_type_decodes_to_grey_and_rgb(mode: str, samples: int) -> None:
    rng = np.random.default_rng(samples)
    shape = (9, 7) if samples == 1 else (9, 7, samples)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    png = _file(pixels, mode)
    colour = pixels.reshape(9, 7, samples)[..., : 3 if samples >= 3 else 1]
    rgb = decode_image(png, channels=3)
    assert rgb.shape == (9, 7, 3)
    assert np.array_equal(rgb, colour if samples >= 3 else np.repeat(colour, 3, axis=-1))
    grey = decode_image(png, channels=1)[..., 0].astype(float)
    luma = colour @ [0.299, 0.587, 0.114] if samples >= 3 else colour[..., 0]
    assert np.abs(grey - luma).max() <= 1.0


def test_palette_and_16_bit_pngs_decode() -> None:
    table = np.array([[0, 0, 0], [255, 0, 0], [10, 200, 30]], dtype=np.uint8)
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    image = Image.frombytes("P", (3, 2), index.tobytes())
    image.putpalette(table.tobytes())
    out = io.BytesIO()
    image.save(out, format="PNG")
    assert np.array_equal(decode_image(out.getvalue(), channels=3), table[index])
    deep = np.array([[0, 65535], [257 * 100, 257 * 7]], dtype=np.uint16)
    assert decode_image(_file(deep, "I;16"))[..., 0].tolist() == [[0, 255], [100, 7]]


def test_encode_round_trips_grey_and_rgb() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    assert np.array_equal(decode_image(encode_png(grey))[..., 0], grey)
    rgb = np.stack([grey, 255 - grey, grey // 2], axis=-1)
    assert np.array_equal(decode_image(encode_png(rgb), channels=3), rgb)


def test_any_size_and_jpeg_are_resized_to_the_model_input() -> None:
    big = np.zeros((384, 256), dtype=np.uint8)
    big[:, 128:] = 255  # left half black, right half white
    for data in (_file(big, "L"), _file(big, "L", "JPEG", quality=95)):
        small = decode_image(data, size=(4, 6))[..., 0]
        assert small.shape == (6, 4)
        assert small[:, :2].max() <= 12 and small[:, 2:].min() >= 243


@pytest.mark.parametrize(("data", "message"), [
    (b"GIF89a....", "not a PNG or JPEG"),
    (b"\x89PNG\r\n\x1a\n", "not a PNG or JPEG"),
])
def test_what_is_not_a_readable_image_is_named(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_image(data)


def test_a_truncated_png_is_refused_with_what_to_do() -> None:
    png = _file(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8), "L")
    with pytest.raises(InvalidInput, match=r"damaged or truncated.*whole PNG or JPEG"):
        decode_image(png[: len(png) // 2])


def test_the_header_is_checked_against_the_pixel_budget_before_decoding() -> None:
    png = _file(np.zeros((64, 64), dtype=np.uint8), "L")
    with pytest.raises(ImageTooLarge, match=r"64x64 \(4,096 pixels\).*most this server "
                                            r"decodes is 4,000 pixels") as caught:
        decode_image(png, max_pixels=4000)
    assert caught.value.http_status == 413
    assert decode_image(png, max_pixels=4096).shape == (64, 64, 1)


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
    # any size: resized to the signature's 8x8 (a 16x16 of 2x2 blocks is the same image)
    doubled = np.repeat(np.repeat(images[5], 2, axis=0), 2, axis=1)
    assert predictor.predict({"image": encode_png(doubled)})[0] == expected[5]


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
