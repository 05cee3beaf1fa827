"""Request validation and OpenAPI schemas, both built from a model version's signature.

Each version's inputs become a ``TypedDict`` that pydantic-core validates straight from the
JSON bytes (strict types, unknown fields forbidden, NaN only in nullable float columns), so
a 30-feature record costs a few microseconds and every bad field is reported at once, by
name and row. The same type gives the JSON schema that ``/openapi.json`` shows.

A version whose signature declares image fields (:class:`~modelyard.registry.ImageInput`)
also takes a record holding the image (a base64 PNG or JPEG, or the pixels as an array) in
place of its pixel columns, or the image files themselves as a ``multipart/form-data`` upload
(one record per file); the image becomes those columns before the same validation. Decoding
costs milliseconds, so the pipeline runs such a parse in a worker thread (:attr:`decodes`).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
import orjson
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from ..errors import InvalidInput, ValidationFailed
from ..registry import MAX_IMAGE_PIXELS, ColumnSpec, Signature, image_records
from ._errors import PayloadTooLarge
from ._uploads import form_boundary, read_form

__all__ = ["InputSchema", "ParsedInput", "output_schema"]

_EXAMPLES = 3
_NUMERIC = {"float", "integer"}
_NUMBERS = frozenset((float, int))  # JSON numbers as the parser gives them (bool is not int)
# pydantic error types -> the rule names the registry's validation uses too
_RULES = {
    "missing": "missing_column",
    "extra_forbidden": "unknown_column",
    "finite_number": "not_finite",
    "literal_error": "category",
    "enum": "category",
}
_SENTENCES = {
    "missing_column": "is missing",
    "unknown_column": "is not an input of the model",
    "not_finite": "must be a finite number",
    "not_null": "must not be null",
    "category": "is not a known category",
}


def _field_type(spec: ColumnSpec) -> Any:
    kind = spec.type
    base: Any
    if kind == "float":
        base = Annotated[float, Field(strict=True, allow_inf_nan=spec.nullable)]
    elif kind == "integer":
        base = Annotated[int, Field(strict=True)]
    elif kind == "boolean":
        base = Annotated[bool, Field(strict=True)]
    elif kind == "string":
        base = Annotated[str, Field(strict=True)]
    elif kind == "datetime":
        base = datetime
    elif spec.categories:
        base = Literal[tuple(spec.categories)]
    else:
        base = str | int | float | bool
    return NotRequired[base | None] if spec.nullable else base


def _record_type(signature: Signature, title: str) -> Any:
    fields = {c.name: _field_type(c) for c in signature.inputs or ()}
    make: Any = TypedDict  # built at run time from the signature's columns
    record: Any = make(title, fields)
    record.__pydantic_config__ = ConfigDict(extra="forbid")
    return record


class ParsedInput:
    """A validated request body: its records, and the float matrix when the inputs are all
    numeric (in signature order, ``NaN`` for nulls)."""

    __slots__ = ("matrix", "n", "records")

    def __init__(self, records: Any, n: int, matrix: np.ndarray[Any, Any] | None) -> None:
        self.records = records
        self.n = n
        self.matrix = matrix


class InputSchema:
    """Validates prediction request bodies against one version's signature.

    Args:
        signature: the version's signature.
        title: the schema's name in OpenAPI, e.g. ``fraud_v3_record``.
        max_rows: the most records one request may hold.
        what: how error messages name the model, e.g. ``fraud/versions/3``.
        max_image_pixels: refuse image files whose header declares more pixels (413).

    Example:
        >>> schema = InputSchema(Signature(inputs=(ColumnSpec("a", "float"),)), "m", 10)
        >>> schema.parse(b'[{"a": 1}, {"a": 2.5}]').matrix.tolist()
        [[1.0], [2.5]]
    """

    def __init__(self, signature: Signature, title: str, max_rows: int, what: str = "",
                 max_image_pixels: int = MAX_IMAGE_PIXELS) -> None:
        self.signature = signature
        self.max_image_pixels = max_image_pixels
        #: whether :meth:`parse` may decode image files (run it off the event loop then)
        self.decodes = bool(signature.images)
        self.title = title
        self.max_rows = max_rows
        self.what = what or title
        self.columns = signature.columns
        self.known = signature.inputs is not None
        self.numeric = self.known and all(c.type in _NUMERIC for c in signature.inputs or ())
        record: Any = _record_type(signature, title) if self.known else dict[str, Any]
        many: Any = Annotated[list[record], Field(min_length=1, max_length=max_rows)]
        self._one: TypeAdapter[Any] = TypeAdapter(record)
        self._many: TypeAdapter[Any] = TypeAdapter(many)
        nullable = any(c.nullable for c in signature.inputs or ())
        self._row: Callable[[Any], Any]
        if not self.columns:
            self._row = lambda r: ()
        elif len(self.columns) == 1:
            only = self.columns[0]
            self._row = lambda r: (r.get(only),)
        elif nullable:
            cols = self.columns
            self._row = lambda r: [r.get(c) for c in cols]
        else:
            self._row = operator.itemgetter(*self.columns)
        # Records of plain numbers, every field present: checked here without pydantic
        # (``_plain``); anything else goes through the full validation and its errors.
        self._plain_ok = self.numeric and bool(self.columns) and not nullable \
            and not signature.images
        self._keys = frozenset(self.columns)
        self._ints = tuple(i for i, c in enumerate(signature.inputs or ())
                           if c.type == "integer")

    # -- schemas ------------------------------------------------------------------------

    def record_schema(self) -> dict[str, Any]:
        """The JSON schema of one record (or, with image fields, of either form of it)."""
        schema: dict[str, Any] = self._one.json_schema()
        schema["title"] = self.title
        if not self.signature.images:
            return schema
        forms = [schema]
        for image in self.signature.images:
            forms.append({
                "title": f"{self.title}_{image.name}", "type": "object",
                "required": [image.name], "properties": {image.name: {
                    "description": f"a {image.shape} image in place of its "
                                   f"{len(image.columns)} pixel fields: a PNG or JPEG of any "
                                   "size as base64 text (or a data:image/png;base64 URL), or "
                                   "the pixel values; or post the files as multipart/form-data "
                                   f"in field {image.name!r}, one record per file",
                    "anyOf": [{"type": "string", "contentEncoding": "base64",
                               "contentMediaType": "image/png"},
                              {"type": "string", "contentEncoding": "base64",
                               "contentMediaType": "image/jpeg"},
                              {"type": "array", "items": {}}]}}})
        return {"title": self.title, "anyOf": forms}

    def request_schema(self) -> dict[str, Any]:
        """The JSON schema of a request body: one record, or a list of them."""
        record = self.record_schema()
        return {"title": f"{self.title}_request", "anyOf": [
            record, {"type": "array", "items": record, "minItems": 1,
                     "maxItems": self.max_rows}]}

    # -- parsing ------------------------------------------------------------------------

    def parse(self, body: bytes, content_type: str | None = None) -> ParsedInput:
        """Validate a request body and return its rows.

        Args:
            body: JSON (one record or a list), or a ``multipart/form-data`` upload of image
                files (recognised by ``content_type``, or by its leading boundary line).
            content_type: the request's ``Content-Type``.

        Raises:
            ValidationFailed: naming every bad field with its rule and rows (422).
            PayloadTooLarge: more than ``max_rows`` records, or an image over the pixel
                budget (413).
            InvalidInput: not JSON, or neither a record nor a list of records (422).
        """
        boundary = form_boundary(body, content_type)
        if boundary is not None:
            return self._parse_form(body, boundary)
        first = body.lstrip()[:1]
        if first not in (b"{", b"["):
            raise InvalidInput(
                "the body must be JSON: one record (an object of feature values) or a list "
                f"of them; expected fields: {', '.join(self.columns[:20]) or 'any'}")
        many = first == b"["
        if self._plain_ok:
            plain = self._plain(body, many)
            if plain is not None:
                return plain
        try:
            if self.signature.images:
                value = self._with_images(body, many)
            else:
                value = (self._many if many else self._one).validate_json(body)
        except ValidationError as exc:
            raise self._failure(exc, many) from None
        return self._rows(value if many else [value])

    def _plain(self, body: bytes, many: bool) -> ParsedInput | None:
        """The rows of a body that plainly passes: every record has exactly the inputs, each
        a JSON number (an integer where the input is one). ``None`` for anything else, which
        the full validation then accepts or refuses with its named errors. It takes what
        the strict schema takes: JSON has no NaN or Infinity (the parser refuses them), and
        ``true`` or ``"1.5"`` is not a number."""
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        records = value if many else [value]
        if many and (type(value) is not list or not 0 < len(value) <= self.max_rows):
            return None
        keys, width, row, ints = self._keys, len(self.columns), self._row, self._ints
        rows = []
        for record in records:
            if type(record) is not dict or len(record) != width or record.keys() != keys:
                return None
            values = row(record)
            if not _NUMBERS.issuperset(map(type, values)) or (
                    ints and any(type(values[i]) is not int for i in ints)):
                return None
            rows.append(values)
        return ParsedInput(records, len(rows), np.array(rows, dtype=np.float64))

    def _rows(self, records: Any) -> ParsedInput:
        matrix = None
        if self.numeric:
            try:
                matrix = np.array([self._row(r) for r in records], dtype=np.float64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise InvalidInput(f"the input of {self.what} has values that are not numbers "
                                   f"a float can hold: {exc}") from None
            matrix = matrix.reshape(len(records), len(self.columns))
        return ParsedInput(records, len(records), matrix)

    def _with_images(self, body: bytes, many: bool) -> Any:
        """Parse, turn image fields into pixel columns, then validate as usual."""
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not valid JSON: {exc}") from None
        records = raw if many else [raw]
        if many and len(records) > self.max_rows:
            raise PayloadTooLarge(f"the request holds more than {self.max_rows} records; split "
                                  "it, or raise MODELYARD_MAX_ROWS_PER_REQUEST")
        if all(isinstance(r, dict) for r in records):
            try:
                records = image_records(records, self.signature,
                                        max_pixels=self.max_image_pixels)
            except InvalidInput as exc:
                raise type(exc)(f"{exc} ({self.what})") from None
        return self._validate_pixels(records, many)

    def _parse_form(self, body: bytes, boundary: bytes) -> ParsedInput:
        """A ``multipart/form-data`` upload: one record per image file; text fields (JSON
        values, or text) go into every record."""
        names = [image.name for image in self.signature.images]
        if not names:
            raise InvalidInput(f"{self.what} has no image field, so it takes no form upload; "
                               "send one record (or a list of them) as JSON")
        files, fields = read_form(body, boundary, max_files=self.max_rows)
        for name, _, _ in files:
            if name not in names:
                raise InvalidInput(f"form field {name!r} holds a file, but {self.what} takes "
                                   f"image files in field {' or '.join(map(repr, names))}")
        by_field = {n: [(f, d) for field, f, d in files if field == n] for n in names}
        counts = {n: len(v) for n, v in by_field.items() if v}
        if not counts:
            raise InvalidInput(f"the form holds no image file; send the image(s) in field "
                               f"{names[0]!r} (one record per file)")
        if len(set(counts.values())) > 1:
            raise InvalidInput(f"the form's image fields hold different numbers of files "
                               f"({counts}); send one file per field for each record")
        records = []
        for i in range(next(iter(counts.values()))):
            record: dict[str, Any] = dict(fields)
            record.update({n: files_of[i][1] for n, files_of in by_field.items() if files_of})
            try:
                records.extend(image_records([record], self.signature,
                                             max_pixels=self.max_image_pixels))
            except InvalidInput as exc:
                which = ", ".join(repr(f[i][0]) for f in by_field.values() if f)
                raise type(exc)(f"file {i} ({which}): {exc} ({self.what})") from None
        try:
            value = self._validate_pixels(records, True)
        except ValidationError as exc:
            raise self._failure(exc, True) from None
        return self._rows(value)

    def _validate_pixels(self, records: list[Any], many: bool) -> Any:
        # Back to JSON, so the pixels are checked by exactly the rules of a pixel record.
        return (self._many if many else self._one).validate_json(
            orjson.dumps(records if many else records[0], option=orjson.OPT_SERIALIZE_NUMPY))

    def _failure(self, exc: ValidationError, many: bool) -> InvalidInput:
        groups: dict[tuple[str | None, str], dict[str, Any]] = {}
        for error in exc.errors(include_url=False):
            loc = list(error["loc"])
            kind = error["type"]
            if kind == "too_long":
                return PayloadTooLarge(
                    f"the request holds more than {self.max_rows} records; split it, or raise "
                    "MODELYARD_MAX_ROWS_PER_REQUEST")
            if kind == "json_invalid":
                return InvalidInput(f"the body is not valid JSON: {error['msg']}")
            if kind == "too_short":
                return InvalidInput("the request holds no records; send at least one")
            row = loc.pop(0) if many and loc and isinstance(loc[0], int) else 0
            column = str(loc[0]) if loc else None
            if column is None:
                rule = "not_a_record"
            elif kind in _RULES:
                rule = _RULES[kind]
            elif error.get("input", 0) is None:
                rule = "not_null"
            else:
                rule = "type"
            group = groups.setdefault((column, rule), {
                "column": column, "rule": rule, "count": 0, "rows": [], "examples": [],
                "message": error["msg"]})
            group["count"] += 1
            if len(group["rows"]) < _EXAMPLES:
                group["rows"].append(row)
                if rule not in {"missing_column"}:
                    group["examples"].append(_example(error.get("input")))
        violations = list(groups.values())
        sentences = []
        for v in violations:
            if v["column"] is None:
                sentences.append(f"row {v['rows'][0]} is not a record (an object of features)")
                continue
            what = _SENTENCES.get(v["rule"]) or v["message"][0].lower() + v["message"][1:]
            rows = ", ".join(str(r) for r in v["rows"]) + (", ..." if v["count"] > len(
                v["rows"]) else "")
            got = f" (got {', '.join(v['examples'])})" if v["examples"] and v["rule"] != (
                "unknown_column") else ""
            sentences.append(f"field '{v['column']}' {what}{got}" + (f" in rows {rows}"
                                                                    if many else ""))
        expected = ""
        if any(v["rule"] in {"missing_column", "unknown_column"} for v in violations):
            shown = self.columns[:20] + (["..."] if len(self.columns) > 20 else [])
            expected = f" (expected fields: {', '.join(shown)})"
        return ValidationFailed(
            f"input does not match the signature of {self.what}: " + "; ".join(sentences)
            + expected, violations)


def _example(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool) or value is None \
        else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def output_schema(signature: Signature) -> dict[str, Any]:
    """The JSON schema of a prediction response for a version with this signature."""
    kind = {"integer": "integer", "float": "number", "boolean": "boolean"}.get(
        signature.outputs.prediction_type, "string")
    props: dict[str, Any] = {
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "alias": {"type": ["string", "null"]},
        "request_id": {"type": "string"},
        "predictions": {"type": "array", "items": {"type": kind}},
    }
    if signature.outputs.prediction_type == "list":  # a recommender: top-k item ids per row
        props["predictions"]["items"] = {"type": "array", "items": {"type": "integer"}}
    if signature.outputs.predict_proba and signature.outputs.classes:
        props["classes"] = {"type": "array", "items": {},
                            "example": list(signature.outputs.classes)}
        props["probabilities"] = {"type": "array", "items": {
            "type": "array", "items": {"type": "number"},
            "minItems": len(signature.outputs.classes),
            "maxItems": len(signature.outputs.classes)}}
    return {"type": "object", "properties": props,
            "required": ["model", "version", "request_id", "predictions"]}
