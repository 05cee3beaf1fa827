"""Images as users send them, over real HTTP: multipart uploads (one or many files) and base64
JSON, PNG and JPEG of any size and colour; oversized files and decompression bombs refused
from their header with 413 naming the field while ``/health`` keeps answering, because
decoding runs in a worker thread, never on the event loop."""

from __future__ import annotations

import base64
import io
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import Server
from modelyard.registry import infer_signature

_BODY_LIMIT = 8 * 1024 * 1024


def _file(pixels: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt, **options)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb(side: int) -> bytes:
    """A valid grey PNG of ``side`` x ``side`` zeros: a few hundred KB that inflate to
    ``side**2`` bytes (268 MB at 16384)."""
    packer = zlib.compressobj(9)
    rows = (b"\0" * (side + 1)) * 1024
    idat = b"".join(packer.compress(rows) for _ in range(side // 1024)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, np.ndarray,
                                                                         list[int]]]:
    """A real server for 'digits' (8x8 grey, an image field) and 6 images with their
    predictions made from the pixel columns."""
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X / 16.0, columns=[f"px{i}" for i in range(64)])
    model = LogisticRegression(max_iter=300).fit(frame, y)
    project = tmp_path_factory.mktemp("images")
    images = np.rint(frame.head(6).to_numpy() * 255).astype(np.uint8).reshape(-1, 8, 8)
    with modelyard.open(project) as yard:
        sig = infer_signature(frame.head(), model).with_image("image", height=8, width=8,
                                                              scale=1 / 255)
        yard.models.register("digits", model, signature=sig, input_example=frame.head())
        yard.models.register("plain", model, input_example=frame.head())
        expected = yard.models.load("digits@latest").predict(
            pd.DataFrame(images.reshape(6, 64) / 255, columns=frame.columns)).tolist()
    with Server(project, ["digits@latest", "plain@latest"],
                {"MODELYARD_MAX_BODY_BYTES": str(_BODY_LIMIT)}) as server:
        yield server, images, expected


def test_uploads_one_or_many_files_png_and_jpeg_any_size(
        digits: tuple[Server, np.ndarray, list[int]]) -> None:
    server, images, expected = digits
    url = f"{server.url}/v1/models/digits/predict"
    one = httpx.post(url, files={"image": ("d0.png", _file(images[0]), "image/png")})
    assert one.status_code == 200, one.text
    assert one.json()["predictions"] == expected[:1]
    # many files in one field: one record each, in order; a 4x larger colour PNG (2x2 blocks,
    # grey in all three channels) and a high-quality JPEG of the same size stand for the same
    many = [("image", (f"d{i}.png", _file(img), "image/png")) for i, img in enumerate(images)]
    big = np.repeat(np.repeat(images[3], 4, axis=0), 4, axis=1)
    many.append(("image", ("big.png", _file(np.stack([big] * 3, axis=-1)), "image/png")))
    many.append(("image", ("big.jpg", _file(big, "JPEG", quality=100), "image/jpeg")))
    answer = httpx.post(url, files=many)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [*expected, expected[3], expected[3]]
    # base64 in JSON as before, JPEG too
    body = {"image": base64.b64encode(_file(big, "JPEG", quality=100)).decode()}
    assert httpx.post(url, json=body).json()["predictions"] == expected[3:4]


def test_bad_uploads_are_4xx_naming_the_field(
        digits: tuple[Server, np.ndarray, list[int]]) -> None:
    server, images, _ = digits
    url = f"{server.url}/v1/models/digits/predict"
    png = _file(images[0])
    for files, status, said in [
        ({"image": ("notes.txt", b"hello", "text/plain")}, 422,
         "file 0 ('notes.txt'): field 'image': not a PNG or JPEG"),
        ({"image": ("cut.png", _file(np.full((64, 64), 9, np.uint8))[:60], "image/png")},
         422, "field 'image'"),
        ({"photo": ("d.png", png, "image/png")}, 422,
         "form field 'photo' holds a file, but digits/versions/1 takes image files in "
         "field 'image'"),
    ]:
        answer = httpx.post(url, files=files)
        assert answer.status_code == status, answer.text
        assert said in answer.json()["message"]
    plain = httpx.post(f"{server.url}/v1/models/plain/predict",
                       files={"image": ("d.png", png, "image/png")})
    assert plain.status_code == 422
    assert "no image field, so it takes no form upload" in plain.json()["message"]
    empty = httpx.post(url, data={"note": "x"}, files={"other": ("", b"", "text/plain")})
    assert empty.status_code == 422


def test_oversized_images_and_bombs_are_refused_while_health_answers(
        digits: tuple[Server, np.ndarray, list[int]]) -> None:
    server, _, _ = digits
    url = f"{server.url}/v1/models/digits/predict"
    canvas = np.zeros((4096, 4096, 4), dtype=np.uint8)
    canvas[::64, :, :] = 255
    huge = _file(canvas)  # about 100 KB that a decoder would inflate to 64 MB
    bomb = _bomb(16384)  # 260 KB that inflate to 268 MB
    assert len(huge) < 400_000 and len(bomb) < 400_000
    before = _rss_kb(server.proc.pid)
    answers: list[tuple[int, str, float]] = []

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(3):
                for name, data in (("huge.png", huge), ("bomb.png", bomb)):
                    started = time.perf_counter()
                    answer = client.post(url, files={"image": (name, data, "image/png")})
                    answers.append((answer.status_code, answer.json()["message"],
                                    time.perf_counter() - started))
                answer = client.post(url, json={"image": base64.b64encode(bomb).decode()})
                answers.append((answer.status_code, answer.json()["message"], 0.0))

    sender = threading.Thread(target=send)
    health: list[float] = []
    with httpx.Client(timeout=5) as client:
        client.get(f"{server.url}/health")
        sender.start()
        while sender.is_alive():
            started = time.perf_counter()
            assert client.get(f"{server.url}/health").status_code == 200
            health.append(time.perf_counter() - started)
            time.sleep(0.01)
    sender.join()
    assert len(answers) == 9
    for status, message, seconds in answers:
        assert status == 413, message
        assert "field 'image'" in message and "pixels" in message
        assert seconds < 2.0
    assert any("4096x4096 (16,777,216 pixels)" in m for _, m, _ in answers)
    assert health and max(health) < 0.1, f"/health took {max(health) * 1000:.0f} ms"
    assert _rss_kb(server.proc.pid) - before < 40_000  # KB: nothing was inflated


def test_large_images_decode_off_the_event_loop(
        digits: tuple[Server, np.ndarray, list[int]]) -> None:
    server, _, _ = digits
    url = f"{server.url}/v1/models/digits/predict"
    ramp = np.tile(np.linspace(0, 255, 3000).astype(np.uint8), (3000, 1))
    photo = _file(np.stack([ramp, ramp.T, ramp], axis=-1))  # 9 megapixels, within budget
    answers: list[int] = []
    decode: list[float] = []

    def send() -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(3):
                started = time.perf_counter()
                answer = client.post(url, files={"image": ("photo.png", photo, "image/png")})
                decode.append(time.perf_counter() - started)
                answers.append(answer.status_code)

    senders = [threading.Thread(target=send) for _ in range(2)]
    health: list[float] = []
    with httpx.Client(timeout=5) as client:
        for sender in senders:
            sender.start()
        while any(s.is_alive() for s in senders):
            started = time.perf_counter()
            assert client.get(f"{server.url}/health").status_code == 200
            health.append(time.perf_counter() - started)
            time.sleep(0.01)
    assert answers == [200] * 6
    # each answer takes a while (a 27 MB decode), yet the loop answers /health meanwhile
    assert len(health) >= 3 and sorted(health)[int(len(health) * 0.9)] < 0.1, (
        f"/health p90 {sorted(health)[int(len(health) * 0.9)] * 1000:.0f} ms while images "
        f"took {min(decode) * 1000:.0f}-{max(decode) * 1000:.0f} ms")


def test_the_pixel_budget_is_the_max_image_pixels_setting(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from _serving import in_process
    from modelyard.serve import create_app

    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X / 16.0, columns=[f"px{i}" for i in range(64)])
    monkeypatch.setenv("MODELYARD_MAX_IMAGE_PIXELS", "10000")  # 100 x 100
    with modelyard.open(tmp_path) as yard:
        model = LogisticRegression(max_iter=300).fit(frame, y)
        sig = infer_signature(frame.head(), model).with_image("image", height=8, width=8,
                                                              scale=1 / 255)
        yard.models.register("digits", model, signature=sig, input_example=frame.head())
        assert yard.settings.max_image_pixels == 10_000
        small = _file(np.zeros((100, 100), dtype=np.uint8))
        large = _file(np.zeros((101, 100), dtype=np.uint8))

        async def check(client: httpx.AsyncClient) -> None:
            url = "/v1/models/digits/predict"
            ok = await client.post(url, files={"image": ("a.png", small, "image/png")})
            assert ok.status_code == 200, ok.text
            refused = await client.post(url, files={"image": ("b.png", large, "image/png")})
            assert refused.status_code == 413
            message = refused.json()["message"]
            assert "10,100 pixels" in message and "max_image_pixels" in message, message

        in_process(create_app(yard, ["digits@latest"]), check)
