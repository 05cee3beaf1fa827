"""Image uploads: reading a ``multipart/form-data`` prediction request (python-multipart).

Each file part is one image; text parts are the other fields of every record. The body
arrives whole and bounded by ``MODELYARD_MAX_BODY_BYTES`` (see ``_http.read_body``), so it is
parsed from memory, in the worker thread that decodes the images.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import InvalidInput
from ._errors import PayloadTooLarge

__all__ = ["form_boundary", "read_form"]


def form_boundary(body: bytes, content_type: str | None) -> bytes | None:
    """The multipart boundary of a ``multipart/form-data`` body, else None. Without a
    content type (a body parsed again for a rollout's challenger) the body's first line,
    ``--boundary``, is the evidence: JSON never starts with ``--``."""
    if content_type is not None:
        if not content_type[:10].lower().startswith("multipart/"):
            return None  # every JSON prediction: no multipart parser on the hot path
        from python_multipart.multipart import parse_options_header

        kind, options = parse_options_header(content_type)
        if kind != b"multipart/form-data":
            return None
        boundary = options.get(b"boundary")
        if not boundary:
            raise InvalidInput("a multipart/form-data body needs a boundary in its "
                               "Content-Type; let the HTTP client set the header")
        return boundary
    if not body.startswith(b"--"):
        return None
    line = body[2:body.find(b"\r\n")] if b"\r\n" in body[:200] else b""
    return line or None


def read_form(body: bytes, boundary: bytes, *, max_files: int
              ) -> tuple[list[tuple[str, str, bytes]], dict[str, Any]]:
    """The files ``(field, file name, bytes)`` in order, and the text fields (each value
    read as JSON when it is JSON, else kept as text) of a ``multipart/form-data`` body.

    Raises:
        PayloadTooLarge: more than ``max_files`` files (413).
        InvalidInput: a body that is not a well-formed form.
    """
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import Field, File, FormParser

    files: list[tuple[str, str, bytes]] = []
    fields: dict[str, Any] = {}

    def on_file(file: File) -> None:
        if len(files) >= max_files:
            raise PayloadTooLarge(f"the form holds more than {max_files} files; split it, or "
                                  "raise MODELYARD_MAX_ROWS_PER_REQUEST")
        file.file_object.seek(0)
        files.append(((file.field_name or b"").decode("utf-8", "replace"),
                      (file.file_name or b"").decode("utf-8", "replace"),
                      file.file_object.read()))
        file.close()

    def on_field(field: Field) -> None:
        name = (field.field_name or b"").decode("utf-8", "replace")
        raw = field.value or b""
        try:
            fields[name] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            fields[name] = raw.decode("utf-8", "replace")

    # every file stays in memory: the body is already bounded by MODELYARD_MAX_BODY_BYTES
    parser = FormParser("multipart/form-data", on_field, on_file, boundary=boundary,
                        config={"MAX_MEMORY_FILE_SIZE": len(body) + 1})
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInput(f"the multipart/form-data body is malformed ({exc}); let the HTTP "
                           "client build it (curl -F image=@digit.png)") from None
    return files, fields
