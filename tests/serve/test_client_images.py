"""``Client.predict_images`` against a real server: paths, bytes and open files uploaded as
``curl -F image=@a.png`` sends them, one record per image in order; what cannot be read
is named before anything is sent, and the server's refusals come back as its errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import Server
from modelyard.errors import InvalidInput, NotFound
from modelyard.registry import infer_signature


def _encoded(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt, **({"quality": 100} if fmt == "JPEG"
                                                     else {}))
    return out.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, np.ndarray,
                                                                         list[int]]]:
    """'digits' (an 8x8 grey image field) and 'plain' (pixel columns only) on a real
    server, with 4 images and the predictions their pixel columns get."""
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X / 16.0, columns=[f"px{i}" for i in range(64)])
    model = LogisticRegression(max_iter=300).fit(frame, y)
    project = tmp_path_factory.mktemp("client-images")
    images = np.rint(frame.iloc[[0, 1, 2, 7]].to_numpy() * 255).astype(np.uint8)
    images = images.reshape(-1, 8, 8)
    with modelyard.open(project) as yard:
        sig = infer_signature(frame.head(), model).with_image("image", height=8, width=8,
                                                              scale=1 / 255)
        yard.models.register("digits", model, signature=sig, input_example=frame.head())
        yard.models.register("plain", model, input_example=frame.head())
        expected = yard.models.load("digits@latest").predict(
            pd.DataFrame(images.reshape(-1, 64) / 255, columns=frame.columns)).tolist()
    server = Server(project, ["digits@latest", "plain@latest"])
    try:
        server.wait_ready(120)  # a shared 2-core machine can take longer than the default
    except BaseException:
        server.terminate()
        raise
    with server:
        yield server, images, expected


def test_paths_bytes_and_open_files_give_one_record_each_in_order(
        served: tuple[Server, np.ndarray, list[int]], tmp_path: Path) -> None:
    server, images, expected = served
    first = tmp_path / "first.png"
    first.write_bytes(_encoded(images[0]))
    big = np.repeat(np.repeat(images[3], 4, axis=0), 4, axis=1)  # 32x32, resized by the server
    colour = tmp_path / "colour.jpg"
    colour.write_bytes(_encoded(np.stack([big] * 3, axis=-1), "JPEG"))
    with modelyard.Client(server.url) as client, (tmp_path / "first.png").open("rb") as fh:
        answer = client.predict_images("digits", [first, _encoded(images[1]), str(colour),
                                                  _encoded(images[2], "JPEG"), fh])
        assert answer.predictions == [expected[0], expected[1], expected[3], expected[2],
                                      expected[0]]
        assert answer.model == "digits" and answer.version == 1
        assert answer.probabilities is not None and len(answer.probabilities) == 5
        # one image alone, by version, with a request id of our own
        one = client.predict_images("digits/versions/1", _encoded(images[3]),
                                    request_id="upload-1")
        assert one.predictions == expected[3:4] and one.request_id == "upload-1"
        assert client.predict_images("digits@latest", [first]).predictions == expected[:1]


def test_what_cannot_be_sent_or_is_refused_is_named(
        served: tuple[Server, np.ndarray, list[int]], tmp_path: Path) -> None:
    server, images, _ = served
    png = _encoded(images[0])
    with modelyard.Client(server.url) as client:
        with pytest.raises(InvalidInput, match=r"image 1: no file at '.*missing\.png'"):
            client.predict_images("digits", [png, tmp_path / "missing.png"])
        with pytest.raises(InvalidInput, match="at least one image"):
            client.predict_images("digits", [])
        with pytest.raises(InvalidInput, match="image 0 is a int"):
            client.predict_images("digits", [3])  # type: ignore[list-item]
        with (tmp_path / "t.png").open("w") as fh:
            fh.write("x")
        with (tmp_path / "t.png").open("r") as text, pytest.raises(
                InvalidInput, match="binary mode"):
            client.predict_images("digits", [text])  # type: ignore[list-item]
        # refused by the server, which names the file and the field
        with pytest.raises(InvalidInput, match=r"file 1 \('image1.bin'\): field 'image': "
                                               r"not a PNG or JPEG"):
            client.predict_images("digits", [png, b"hello"])
        with pytest.raises(InvalidInput, match="takes image files in field 'image'"):
            client.predict_images("digits", [png], field="photo")
        with pytest.raises(InvalidInput, match="no image field"):
            client.predict_images("plain", [png])
        with pytest.raises(NotFound):
            client.predict_images("nothing", [png])
