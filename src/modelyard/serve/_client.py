"""A Python client of the prediction service.

Errors come back as the same exceptions the server raised (``ValidationFailed`` with its
violations, ``Unauthorized``, ``NotFound``, ...), rebuilt from the JSON error body.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union
from urllib.parse import quote

import httpx

from .. import errors
from ..errors import InvalidInput, ModelyardError, StorageUnavailable

__all__ = ["Client", "Prediction"]

_ERRORS: dict[str, type[ModelyardError]] = {
    name: getattr(errors, name) for name in errors.__all__}

#: one image for :meth:`Client.predict_images`: a file's path, its bytes, or an open file
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

_KINDS = ((b"\x89PNG\r\n\x1a\n", "png", "image/png"), (b"\xff\xd8\xff", "jpg", "image/jpeg"))


def _upload(source: ImageSource, index: int) -> tuple[str, bytes, str]:
    """``(file name, bytes, content type)`` of one image, as ``curl -F image=@a.png``
    sends it (the name from the path; the type from the bytes' magic number)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            data, name = path.read_bytes(), path.name
        except FileNotFoundError:
            raise InvalidInput(f"image {index}: no file at {str(path)!r}; give an existing "
                               "path, the image's bytes or an open file") from None
        except OSError as exc:
            raise InvalidInput(f"image {index}: {str(path)!r} cannot be read ({exc})") from None
    elif isinstance(source, bytes | bytearray | memoryview):
        data, name = bytes(source), ""
    elif hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, bytes):
            raise InvalidInput(f"image {index}: the file gave text, not bytes; open it in "
                               "binary mode ('rb')")
        name = Path(str(getattr(source, "name", ""))).name
    else:
        raise InvalidInput(f"image {index} is a {type(source).__name__}; give a path, the "
                           "image's bytes or a file opened in binary mode")
    kind = next(((ext, ctype) for magic, ext, ctype in _KINDS if data.startswith(magic)),
                None)
    if not name:
        name = f"image{index}.{kind[0] if kind else 'bin'}"
    return name, data, kind[1] if kind else "application/octet-stream"


@dataclass(frozen=True)
class Prediction:
    """What the service answered for one request.

    Attributes:
        model: the model name.
        version: the version that answered.
        alias: the alias the request named, if any.
        request_id: the id to send feedback with.
        predictions: one prediction per row.
        probabilities: one list of class probabilities per row, when the model has them.
        classes: the class labels, in the order of ``probabilities``.
    """

    model: str
    version: int
    alias: str | None
    request_id: str
    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None


def _error(response: httpx.Response) -> ModelyardError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    message = message or f"HTTP {response.status_code}: {response.text[:200]}"
    cls = _ERRORS.get(str(body.get("error")) if isinstance(body, dict) else "")
    if cls is errors.ValidationFailed:
        return errors.ValidationFailed(message, list(body.get("violations", [])))
    if cls is None:  # the service's own errors (Forbidden, RateLimited, ...) by status
        cls = (errors.Unauthorized if response.status_code in (401, 403)
               else StorageUnavailable if response.status_code >= 500 else InvalidInput)
    return cls(message)


def _predict_path(model: str) -> str:
    name, sep, version = model.partition("/versions/")
    return (f"/v1/models/{quote(name)}/versions/{version}/predict" if sep
            else f"/v1/models/{quote(model, safe='@')}/predict")


def _prediction(body: dict[str, Any]) -> Prediction:
    return Prediction(model=body["model"], version=body["version"], alias=body.get("alias"),
                      request_id=body["request_id"], predictions=body["predictions"],
                      probabilities=body.get("probabilities"), classes=body.get("classes"))


class Client:
    """Talks to a running ``modelyard serve``.

    Args:
        url: the service's base URL, e.g. ``http://127.0.0.1:8000``.
        key: an API key (``modelyard keys create``), when the service has keys.
        timeout: seconds to wait for an answer.

    Example:
        >>> client = modelyard.Client("http://127.0.0.1:8000", key="my_...")  # doctest: +SKIP
        >>> client.predict("fraud", [{"amount": 12.5, "country": "DE"}]).predictions
        ... # doctest: +SKIP
        [0]
    """

    def __init__(self, url: str, *, key: str | None = None, timeout: float = 30.0) -> None:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise StorageUnavailable(f"the prediction service at {self.url} cannot be "
                                     f"reached ({type(exc).__name__}: {exc})") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    def predict(self, model: str, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]] | Any,
                *, request_id: str | None = None) -> Prediction:
        """Predict one record or a list of records.

        Args:
            model: a served reference: ``fraud``, ``fraud@champion``, ``fraud/versions/3``.
            rows: a dict (one record), a list of dicts, or a pandas DataFrame.
            request_id: an id of your own (1-64 of ``A-Za-z0-9._:-``); one is made if not.

        Returns:
            The answer, with one prediction per row.

        Raises:
            ValidationFailed: the rows do not match the model's signature (each bad field
                named in ``violations``).
            NotFound: the model is not served.
            Unauthorized: a missing or wrong key.
        """
        if hasattr(rows, "to_json") and hasattr(rows, "columns"):
            import json

            # pandas' own JSON keeps NaN as null and timestamps as ISO text
            frame: Any = rows
            payload: Any = json.loads(frame.to_json(orient="records", date_format="iso"))
        else:
            payload = rows
        headers = {"x-request-id": request_id} if request_id else None
        body = self._call("POST", _predict_path(model), json=payload, headers=headers)
        return _prediction(body)

    def predict_images(self, model: str, images: ImageSource | Sequence[ImageSource], *,
                       field: str = "image", fields: Mapping[str, Any] | None = None,
                       request_id: str | None = None) -> Prediction:
        """Predict from image files, uploaded as ``multipart/form-data`` the way
        ``curl -F image=@a.png -F image=@b.jpg URL`` sends them: one record per image.

        Args:
            model: a served reference whose signature has an image field
                (``digits``, ``digits@champion``, ``digits/versions/2``).
            images: one image or a list: paths, the files' bytes, or files opened in
                binary mode. PNG or JPEG of any size, colour or grey; the server resizes
                each to the model's input.
            field: the model's image field (``image`` unless its signature names another).
            fields: other fields of every record, sent as text parts (JSON for anything
                that is not a string).
            request_id: an id of your own (1-64 of ``A-Za-z0-9._:-``); one is made if not.

        Returns:
            The answer, one prediction per image, in the order given.

        Raises:
            InvalidInput: no images, or an image that cannot be read here (the message
                names it by its position); the server's refusal of a file that is not an
                image (naming the file and the field) or of one over its size limits.
            NotFound: the model is not served.
            Unauthorized: a missing or wrong key.

        Example:
            >>> client.predict_images("digits", ["a.png", "b.jpg"]).predictions
            ... # doctest: +SKIP
            [7, 2]
        """
        many = (list(images) if isinstance(images, Sequence)
                and not isinstance(images, str | bytes | bytearray | memoryview) else [images])
        if not many:
            raise InvalidInput("predict_images needs at least one image")
        files = [(field, _upload(source, i)) for i, source in enumerate(many)]
        data = {k: v if isinstance(v, str) else json.dumps(v)
                for k, v in (fields or {}).items()}
        headers = {"x-request-id": request_id} if request_id else None
        body = self._call("POST", _predict_path(model), files=files, data=data,
                          headers=headers)
        return _prediction(body)

    def feedback(self, model: str, request_id: str, labels: Sequence[Any]) -> int:
        """Send the true labels of a request's rows, in row order; returns how many were
        stored."""
        items = [{"request_id": request_id, "row": i, "label": label}
                 for i, label in enumerate(labels)]
        body = self._call("POST", f"/v1/models/{quote(model, safe='@')}/feedback",
                          json={"items": items})
        return int(body["stored"])

    def models(self) -> list[dict[str, Any]]:
        """What the service serves: each reference, its version, inputs and outputs."""
        return list(self._call("GET", "/v1/models")["models"])

    def ready(self) -> bool:
        """Whether every served model is loaded."""
        try:
            return self._http.get("/ready").status_code == 200
        except httpx.TransportError:
            return False

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
