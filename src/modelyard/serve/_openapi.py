"""The service's OpenAPI document: its title and version, and predict operations that show
each served reference's real fields.

Predict routes read the raw body and validate it with the version's own schema
(``_schemas``) instead of FastAPI's body parsing, so the request and response schemas of each
served reference's own route are filled in by hand, and kept current across hot swaps, by
:class:`PredictDocs`.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.utils import deep_dict_update

from ._models import ServedModel
from ._schemas import output_schema

__all__ = [
    "DESCRIPTION", "TITLE", "VERSION", "PredictDocs", "declare_answers", "operation_id",
    "own_path", "predict_doc",
]

TITLE = "modelyard prediction service"
DESCRIPTION = ("Predictions from registered model versions; request bodies follow each "
               "version's signature.")
#: modelyard's version, read once from the installed package's metadata.
VERSION = importlib.metadata.version("modelyard")


_ROLE_MARK = "x-modelyard-role"  # set by ``_state.guard`` and the predict routes
_ERROR = {"type": "object", "required": ["error", "message"], "properties": {
    "error": {"type": "string", "description": "the error's class, e.g. ValidationFailed"},
    "message": {"type": "string", "description": "what was wrong and what to do"},
    "violations": {"type": "array", "items": {"type": "object"}}}}
_WHY = {
    "400": "a request the service cannot take",
    "401": "no key, an unknown or revoked one, or every key of the project revoked",
    "403": "a valid key whose role or scope does not cover this route",
    "404": "no such model, version or route",
    "409": "a conflict with the stored state",
    "413": "a body or batch over the limits (max_body_bytes, max_rows_per_request)",
    "422": "a body or parameter that does not validate (every bad field named)",
    "429": "the key is over its rate limit; see Retry-After",
    "503": "a model still loading or the store briefly unavailable; retry",
}
_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "an API key: `modelyard keys create --role ...`"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "the same key in a header of its own"},
}


def declare_answers(schema: dict[str, Any]) -> None:
    """Declare in ``schema`` the security schemes and, per operation, the keys it takes and
    every error status it can answer with (the JSON error shape), so a client generator or a
    fuzzer sees the API the service really has."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
        _SECURITY_SCHEMES)
    schema["components"].setdefault("schemas", {})["Error"] = _ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            role = op.pop(_ROLE_MARK, None)
            statuses = ["503"] if path == "/ready" else []
            if role is not None:
                op["security"] = [{"bearer": []}, {"apiKey": []}]
                op["description"] = (op.get("description", "") + "\n\nOnce the project has "
                                     f"a key, this needs a `{role}` key.").strip()
                statuses = ["400", "401", "403", "404", "409", "422", "429", "503"]
                if method in ("post", "put", "patch"):
                    statuses.append("413")
            responses = op.setdefault("responses", {})
            if "422" in responses:  # the service answers these in its own error shape
                statuses.append("422")
            for status in statuses:
                responses[status] = {"description": _WHY[status], "content": {
                    "application/json": {"schema": ref}}}


def operation_id(ref: str) -> str:
    """The OpenAPI operation id of the predict route of a served reference."""
    return "predict_" + re.sub(r"[^A-Za-z0-9_]", "_", ref)


def own_path(served: ServedModel) -> str:
    """The path of the predict route of a served reference (its version's path when the
    reference names a version)."""
    parsed = served.parsed
    if parsed.version is not None:
        return f"/v1/models/{parsed.name}/versions/{parsed.version}/predict"
    return f"/v1/models/{served.ref}/predict"


def predict_doc(served: ServedModel) -> dict[str, Any]:
    """The request body and 200 response of ``served``'s predict operation, from the
    signature of the version answering now (nothing while none is loaded)."""
    loaded = served.current
    if loaded is None:
        return {}
    return {
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": loaded.input.request_schema()}}},
        "responses": {"200": {"description": "predictions", "content": {
            "application/json": {"schema": output_schema(loaded.predictor.signature)}}}},
    }


class PredictDocs:
    """Documents each served reference's own predict route with its current version.

    :meth:`openapi` replaces the app's ``openapi()`` (FastAPI's way to extend the
    document) and fills in the request and response schemas of those routes from the
    versions answering now; :meth:`refresh`, called after every hot swap, drops the cached
    document so ``/openapi.json`` follows the aliases.

    Args:
        app: the app whose document this is.
        routes: the path of each served reference's own predict route (``POST``), and
            the reference.
    """

    def __init__(self, app: FastAPI, routes: Iterable[tuple[str, ServedModel]]) -> None:
        self._app = app
        self._served = list(routes)

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI document, built once per swap."""
        schema = self._app.openapi_schema
        if schema is None:
            schema = FastAPI.openapi(self._app)  # caches it in app.openapi_schema
            for path, served in self._served:
                doc = predict_doc(served)
                if doc:
                    deep_dict_update(schema["paths"][path]["post"], doc)
            declare_answers(schema)
        return schema

    def refresh(self) -> None:
        """Forget the cached document: the next request for it is built afresh."""
        self._app.openapi_schema = None
