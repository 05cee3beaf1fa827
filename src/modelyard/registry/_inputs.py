"""Turn what a caller passes to ``predict`` into the frame the model was fitted on.

Input is checked against the signature before the model sees it: every missing or unknown
column, wrong type, missing value in a non-nullable column and unknown category is reported
at once, as one :class:`~modelyard.errors.ValidationFailed`. Checks are per column and
vectorised (``pandas.api.types.infer_dtype``); Python loops run only to pick examples for an
error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput, ValidationFailed
from ._images import MAX_IMAGE_PIXELS
from ._signature import ColumnSpec, Signature, logical_type

__all__ = ["image_records", "prepare_input", "to_frame"]

_EXAMPLES = 3
# What pandas.api.types.infer_dtype may say about values each logical type accepts.
_ACCEPTS: dict[str, set[str]] = {
    "float": {"floating", "integer", "mixed-integer-float", "decimal", "empty"},
    "integer": {"integer", "empty"},
    "boolean": {"boolean", "empty"},
    "string": {"string", "empty"},
    "categorical": {"string", "integer", "floating", "mixed-integer-float", "boolean",
                    "categorical", "empty"},
    "datetime": {"datetime64", "datetime", "date", "empty"},
}


_WANTED: dict[str, set[str]] = {
    "float": {"integer", "float"},
    "integer": {"integer"},
    "boolean": {"boolean"},
    "string": {"string"},
    "categorical": {"string", "integer", "float", "boolean"},
    "datetime": {"datetime"},
}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, pd.Timestamp | np.datetime64):
        return "datetime"
    return type(value).__name__


def to_frame(data: Any, signature: Signature) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a dict (one record, or columns of values), a list of
    dicts, or a 2-D array whose columns are the signature's, in its order.

    Raises:
        InvalidInput: the data has none of these shapes, or the array's width is wrong.
    """
    if signature.images:
        data = _expand_images(data, signature)
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = pd.DataFrame([data.to_dict()])
    elif isinstance(data, Mapping):
        values = list(data.values())
        columnar = bool(values) and all(
            isinstance(v, list | tuple | np.ndarray | pd.Series) for v in values)
        try:
            frame = pd.DataFrame(dict(data)) if columnar else pd.DataFrame([dict(data)])
        except ValueError as exc:
            raise InvalidInput(f"the columns of the input differ in length: {exc}") from exc
    elif (isinstance(data, Sequence) and not isinstance(data, str) and len(data)
          and all(isinstance(r, Mapping) for r in data)):
        frame = pd.DataFrame([dict(r) for r in data])
    else:
        frame = _array_frame(data, signature)
    if len(frame) == 0:
        raise InvalidInput("the input has no rows; pass at least one record")
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    return frame


def _expand_images(data: Any, signature: Signature) -> Any:
    """``data`` with every image field turned into its pixel columns (a dict holding an image
    field is one record; a DataFrame may hold one image per row in such a column)."""
    names = {image.name for image in signature.images}
    if isinstance(data, pd.DataFrame):
        if not names & set(map(str, data.columns)):
            return data
        rows = [{str(k): v for k, v in r.items()} for r in data.to_dict(orient="records")]
        return pd.DataFrame(image_records(rows, signature), index=data.index)
    if isinstance(data, Mapping):
        return image_records([data], signature)[0] if names & set(data) else data
    if (isinstance(data, Sequence) and not isinstance(data, str) and len(data)
            and all(isinstance(r, Mapping) for r in data)):
        return image_records(data, signature)
    return data


def image_records(records: Sequence[Mapping[str, Any]], signature: Signature, *,
                  max_pixels: int = MAX_IMAGE_PIXELS) -> list[dict[str, Any]]:
    """The records with each image field (PNG or JPEG bytes, base64 text or an array; see
    :class:`~modelyard.registry.ImageInput`) replaced by the pixel columns it stands for.

    Args:
        records: the records, some holding image fields.
        signature: the signature declaring the image fields.
        max_pixels: refuse image files that declare more pixels than this.

    Raises:
        ImageTooLarge: an image file over ``max_pixels`` (413), naming the record.
        InvalidInput: an image that cannot be read, naming the record.
    """
    out: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        found = [image for image in signature.images if image.name in record]
        if not found:
            out.append(dict(record))
            continue
        row = {k: v for k, v in record.items() if all(k != image.name for image in found)}
        for image in found:
            try:
                values = image.pixels(record[image.name], max_pixels=max_pixels)
            except InvalidInput as exc:
                where = f"record {i}: " if len(records) > 1 else ""
                raise type(exc)(f"{where}{exc}") from None
            row.update(zip(image.columns, values.tolist(), strict=True))
        out.append(row)
    return out


def _array_frame(data: Any, signature: Signature) -> pd.DataFrame:
    if isinstance(data, str | bytes) or data is None:
        raise InvalidInput(
            f"cannot predict on a {type(data).__name__}; pass a DataFrame, a dict (one "
            "record), a list of dicts or a 2-D array"
        )
    array = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)
    width = len(signature.inputs) if signature.inputs is not None else None
    if array.ndim == 1 and width is not None and len(array) == width:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidInput(
            f"cannot predict on an array of shape {array.shape}; pass a 2-D array with one "
            "row per record, or a DataFrame"
        )
    if width is None:
        return pd.DataFrame(array)
    if array.shape[1] != width:
        raise InvalidInput(
            f"the input has {array.shape[1]} columns, but the model takes {width}: "
            f"{', '.join(signature.columns)}"
        )
    frame = pd.DataFrame(array, columns=signature.columns)
    return frame.infer_objects() if array.dtype == object else frame


def _plain(values: pd.Series) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _describe(examples: list[Any]) -> str:
    return ", ".join(repr(str(v)) if isinstance(v, str) else repr(v) for v in examples)


def _target_dtype(spec: ColumnSpec, default: str) -> Any:
    if spec.dtype:
        try:
            dtype = pd.api.types.pandas_dtype(spec.dtype)
        except TypeError:
            return default
        if logical_type(dtype) == spec.type:
            return dtype
    return default


class _Check:
    """The violations found so far, and their sentences."""

    def __init__(self) -> None:
        self.violations: list[dict[str, Any]] = []
        self.sentences: list[str] = []

    def add(self, column: str, rule: str, count: int, examples: list[Any], sentence: str) -> None:
        self.violations.append({"column": column, "rule": rule, "count": count,
                                "examples": [str(e) for e in examples]})
        self.sentences.append(f"column '{column}': {sentence}")


def _convert(spec: ColumnSpec, col: pd.Series, check: _Check) -> pd.Series | None:
    null = col.isna()
    n_null = int(null.sum())
    if n_null and not spec.nullable:
        rows = list(np.flatnonzero(null.to_numpy())[:_EXAMPLES])
        check.add(spec.name, "not_null", n_null, rows,
                  f"{n_null} missing value{'s' if n_null > 1 else ''} (first at row "
                  f"{rows[0]}), but it is not nullable")
    values = col[~null] if n_null else col
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    kind = spec.type
    if isinstance(col.dtype, pd.CategoricalDtype) and kind != "categorical":
        # A categorical frame column sent for a plain column: judge its values.
        values = values.astype(object)
        inferred = pd.api.types.infer_dtype(values, skipna=True)
    accepted = _ACCEPTS[kind]
    if kind == "integer" and inferred in {"floating", "mixed-integer-float"}:
        floats = pd.to_numeric(values).to_numpy(dtype=float)
        fractional = floats != np.round(floats)
        if fractional.any():
            bad = [v.item() for v in floats[fractional][:_EXAMPLES]]
            check.add(spec.name, "type", int(fractional.sum()), bad,
                      f"expected integer, got fractional values such as {_describe(bad)}")
            return None
        accepted = accepted | {inferred}
    if kind == "datetime" and inferred == "string":
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        if parsed.isna().any():
            bad = list(values[parsed.isna()].head(_EXAMPLES))
            check.add(spec.name, "type", int(parsed.isna().sum()), bad,
                      f"expected datetime, got values that are not dates such as "
                      f"{_describe(bad)}")
            return None
        accepted = accepted | {"string"}
    if inferred not in accepted:
        wanted = _WANTED[kind]
        ok = values.map(lambda v: _kind_of(v) in wanted).to_numpy(dtype=bool)
        bad = _plain(values[~ok].head(_EXAMPLES)) or _plain(values.head(_EXAMPLES))
        check.add(spec.name, "type", int((~ok).sum()) or len(values), bad,
                  f"expected {kind}, got {_kind_of(bad[0])} values such as {_describe(bad)}")
        return None
    return _cast(spec, col, values, n_null, check)


def _cast(spec: ColumnSpec, col: pd.Series, values: pd.Series, n_null: int,
          check: _Check) -> pd.Series | None:
    kind = spec.type
    if kind == "float":
        return pd.to_numeric(col).astype(_target_dtype(spec, "float64"))
    if kind == "integer":
        target = _target_dtype(spec, "int64")
        if n_null and isinstance(target, np.dtype):
            target = "float64"  # a NumPy int column cannot hold NaN
        return pd.to_numeric(col).astype(target)
    if kind == "boolean":
        return col.astype("boolean" if n_null else _target_dtype(spec, "bool"))
    if kind == "string":
        return col.astype(_target_dtype(spec, "object"))
    if kind == "datetime":
        return pd.to_datetime(col, format="mixed") if col.dtype == object or \
            pd.api.types.is_string_dtype(col.dtype) else col
    if spec.categories is None:
        return col.astype("category")
    allowed = pd.Index(spec.categories)
    unknown = ~values.isin(allowed)
    if unknown.any():
        bad = list(pd.unique(values[unknown]))[:_EXAMPLES]
        known = ", ".join(str(c) for c in spec.categories[:10])
        more = ", ..." if len(spec.categories) > 10 else ""
        check.add(spec.name, "category", int(unknown.sum()), bad,
                  f"unknown categories such as {_describe(bad)}; known: {known}{more}")
        return None
    return pd.Series(pd.Categorical(col, categories=allowed), index=col.index, name=col.name)


def _all_float(frame: pd.DataFrame, signature: Signature) -> pd.DataFrame | None:
    """The frame, reordered and cast in one step, when every input is a float, the frame has
    exactly those columns as NumPy numbers and no missing value where none is allowed; else
    ``None`` (the per-column checks then run and report). Wide inputs (an image's 784
    pixels) would otherwise spend most of a one-row prediction in the per-column loop."""
    specs = signature.inputs or ()
    if not specs or any(s.type != "float" for s in specs) or frame.columns.has_duplicates:
        return None
    names = [s.name for s in specs]
    if len(frame.columns) != len(names) or set(frame.columns) != set(names):
        return None
    ordered = frame[names]
    if not all(isinstance(t, np.dtype) and t.kind in "iuf" for t in ordered.dtypes):
        return None
    strict = np.array([not s.nullable for s in specs])
    if strict.any() and np.isnan(ordered.to_numpy(dtype=np.float64)[:, strict]).any():
        return None
    # one dtype lookup per distinct declared dtype, not per column (784 of them: 15 ms)
    by_declared: dict[Any, Any] = {}
    for s in specs:
        if s.dtype not in by_declared:
            by_declared[s.dtype] = _target_dtype(s, "float64")
    if len(set(map(str, by_declared.values()))) == 1:
        return ordered.astype(next(iter(by_declared.values())))
    return ordered.astype({s.name: by_declared[s.dtype] for s in specs})


def prepare_input(data: Any, signature: Signature, *, what: str = "the model") -> pd.DataFrame:
    """Check ``data`` against the signature and return it as the model's frame.

    Columns are reordered to the signature's order and cast to the dtypes the model was
    fitted on; integers are accepted for float columns and whole floats for integer ones.

    Args:
        data: a DataFrame, a dict (one record), a list of dicts, or a 2-D array.
        signature: the signature to check against; unknown inputs pass unchecked.
        what: how to name the model in an error message.

    Returns:
        The frame to give the model.

    Raises:
        ValidationFailed: naming every bad column, with one violation each.
        InvalidInput: the data has an unusable shape.

    Example:
        >>> from modelyard.registry import Signature
        >>> from modelyard.registry._signature import ColumnSpec
        >>> sig = Signature(inputs=(ColumnSpec("a", "float"), ColumnSpec("b", "string")))
        >>> prepare_input({"b": "x", "a": 1}, sig).dtypes.to_dict()
        {'a': dtype('float64'), 'b': dtype('O')}
    """
    frame = to_frame(data, signature)
    if signature.inputs is None:
        return frame
    fast = _all_float(frame, signature)
    if fast is not None:
        return fast
    check = _Check()
    names = set(signature.columns)
    present = set(frame.columns)
    missing = [c.name for c in signature.inputs if c.name not in present]
    for name in missing:
        check.add(name, "missing_column", len(frame), [], "is missing")
    for name in frame.columns:
        if name not in names:
            check.add(name, "unknown_column", len(frame), [], "is not an input of the model")
    converted: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        if spec.name in present:
            col = frame[spec.name]
            if isinstance(col, pd.DataFrame):
                check.add(spec.name, "duplicate_column", len(frame), [], "appears twice")
                continue
            out = _convert(spec, col, check)
            if out is not None:
                converted[spec.name] = out
    if check.violations:
        shown = signature.columns[:20] + (["..."] if len(signature.columns) > 20 else [])
        expected = f" (expected columns: {', '.join(shown)})" if (
            any(v["rule"] in {"missing_column", "unknown_column"} for v in check.violations)
        ) else ""
        raise ValidationFailed(
            f"input does not match the signature of {what}: "
            + "; ".join(check.sentences) + expected,
            check.violations,
        )
    return pd.DataFrame(converted, index=frame.index)
