"""A Python client of the prediction service.

Errors come back as the same exceptions the server raised (``ValidationFailed`` with its
violations, ``Unauthorized``, ``NotFound``, ...), rebuilt from the JSON error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .. import errors
from ..errors import InvalidInput, ModelyardError, StorageUnavailable

__all__ = ["Client", "Prediction"]

_ERRORS: dict[str, type[ModelyardError]] = {
    name: getattr(errors, name) for name in errors.__all__}


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
        name, sep, version = model.partition("/versions/")
        path = (f"/v1/models/{quote(name)}/versions/{version}/predict" if sep
                else f"/v1/models/{quote(model, safe='@')}/predict")
        body = self._call("POST", path, json=payload, headers=headers)
        return Prediction(model=body["model"], version=body["version"], alias=body.get("alias"),
                          request_id=body["request_id"], predictions=body["predictions"],
                          probabilities=body.get("probabilities"), classes=body.get("classes"))

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
