"""Input and output signatures of a model version, and their inference from an example.

Inputs are ordered columns, each with a logical type from the vocabulary the data part uses
too: ``integer``, ``float``, ``boolean``, ``string``, ``categorical``, ``datetime``. A
signature may also declare image fields over pixel columns (:class:`ImageInput`), so callers
can send a PNG or an array instead of one value per pixel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ._images import ImageInput

__all__ = [
    "LOGICAL_TYPES",
    "ColumnSpec",
    "ImageInput",
    "OutputSpec",
    "Signature",
    "infer_signature",
    "logical_type",
]

LOGICAL_TYPES = ("integer", "float", "boolean", "string", "categorical", "datetime")


@dataclass(frozen=True)
class ColumnSpec:
    """One input column.

    Attributes:
        name: the column name.
        type: its logical type, one of :data:`LOGICAL_TYPES`.
        nullable: whether missing values are allowed.
        categories: the allowed values of a ``categorical`` column, where known.
        dtype: the pandas dtype the model was given (e.g. ``int64``), used to rebuild it.
    """

    name: str
    type: str
    nullable: bool = False
    categories: tuple[Any, ...] | None = None
    dtype: str = ""

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES:
            raise InvalidInput(
                f"column {self.name!r} has type {self.type!r}; use one of "
                f"{', '.join(LOGICAL_TYPES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.dtype:
            out["dtype"] = self.dtype
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        """Read the JSON form back."""
        cats = data.get("categories")
        return cls(name=str(data["name"]), type=str(data["type"]),
                   nullable=bool(data.get("nullable", False)),
                   categories=tuple(cats) if cats is not None else None,
                   dtype=str(data.get("dtype", "")))


@dataclass(frozen=True)
class OutputSpec:
    """What the model returns.

    Attributes:
        task: ``classification``, ``regression``, ``clustering``, ``ranking`` or ``other``.
        prediction_type: the logical type of ``predict``'s values, or ``list`` when each
            prediction is a list of integer ids (a recommender's top-k items).
        classes: the class labels of a classifier, in ``predict_proba``'s column order.
        predict_proba: whether the model has ``predict_proba``.
    """

    task: str = "other"
    prediction_type: str = "float"
    classes: tuple[Any, ...] | None = None
    predict_proba: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"task": self.task, "prediction_type": self.prediction_type,
                               "predict_proba": self.predict_proba}
        if self.classes is not None:
            out["classes"] = list(self.classes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputSpec:
        """Read the JSON form back."""
        classes = data.get("classes")
        return cls(task=str(data.get("task", "other")),
                   prediction_type=str(data.get("prediction_type", "float")),
                   classes=tuple(classes) if classes is not None else None,
                   predict_proba=bool(data.get("predict_proba", False)))


@dataclass(frozen=True)
class Signature:
    """The inputs a model version accepts and the outputs it gives.

    ``inputs`` is ``None`` when they are not known (registered without an example); the
    predictor then passes data through unchecked.

    Example:
        >>> sig = Signature(inputs=(ColumnSpec("amount", "float"),))
        >>> sig.columns
        ['amount']
    """

    inputs: tuple[ColumnSpec, ...] | None = None
    outputs: OutputSpec = field(default_factory=OutputSpec)
    images: tuple[ImageInput, ...] = ()

    def __post_init__(self) -> None:
        if self.inputs is not None:
            names = [c.name for c in self.inputs]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise InvalidInput(f"signature has duplicate columns: {', '.join(dupes)}")
        if not self.images:
            return
        if self.inputs is None:
            raise InvalidInput("an image input needs the pixel columns among the signature's "
                               "inputs; register with an input_example")
        types = {c.name: c.type for c in self.inputs}
        taken: set[str] = set()
        for image in self.images:
            if image.name in types or image.name in taken:
                raise InvalidInput(f"image field {image.name!r} has the name of an input "
                                   "column or of another image; give it another name")
            wrong = [c for c in image.columns if types.get(c) not in ("float", "integer")]
            if wrong:
                raise InvalidInput(f"image {image.name!r}: its pixel columns must be numeric "
                                   f"inputs of the model; not so: {', '.join(wrong[:5])}")
            if taken & set(image.columns):
                raise InvalidInput(f"image {image.name!r} shares pixel columns with another")
            taken.update(image.columns)

    def with_image(self, name: str, *, height: int, width: int,
                   columns: list[str] | tuple[str, ...] | None = None, channels: int = 1,
                   scale: float = 1.0) -> Signature:
        """This signature with an image field over pixel columns.

        Args:
            name: the request field that will hold the image.
            height: rows of pixels.
            width: pixels per row.
            columns: the pixel columns in row-major order (channel fastest); by default all
                of the inputs, in order.
            channels: 1 (grey) or 3 (RGB).
            scale: one PNG level (0-255) in the model's units (``1/255`` for [0, 1]).

        Raises:
            InvalidInput: the columns are not numeric inputs, or do not match the size.

        Example:
            >>> sig = Signature(inputs=tuple(ColumnSpec(f"px{i}", "float") for i in range(4)))
            >>> sig.with_image("image", height=2, width=2).images[0].shape
            '2x2'
        """
        chosen = tuple(columns) if columns is not None else tuple(self.columns)
        image = ImageInput(name, height=height, width=width, columns=chosen,
                           channels=channels, scale=scale)
        return Signature(inputs=self.inputs, outputs=self.outputs,
                         images=(*self.images, image))

    @property
    def columns(self) -> list[str]:
        """The input column names in order (empty when inputs are unknown)."""
        return [c.name for c in self.inputs or ()]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with the version (no ``inputs`` key when they are unknown)."""
        out: dict[str, Any] = {"outputs": self.outputs.to_dict()}
        if self.inputs is not None:
            out["inputs"] = [c.to_dict() for c in self.inputs]
        if self.images:
            out["images"] = [image.to_dict() for image in self.images]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        """Read the JSON form back (an empty dict is a signature with nothing known).

        Raises:
            InvalidInput: the dict is not a signature.
        """
        try:
            inputs = data.get("inputs")
            return cls(
                inputs=None if inputs is None else tuple(ColumnSpec.from_dict(c) for c in inputs),
                outputs=OutputSpec.from_dict(data.get("outputs") or {}),
                images=tuple(ImageInput.from_dict(i) for i in data.get("images") or ()),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InvalidInput(f"not a signature: {exc!r}; expected {{'inputs': [...], "
                               "'outputs': {...}}") from exc


def logical_type(dtype: Any) -> str:
    """The logical type of a pandas or NumPy dtype (``object`` and strings are ``string``).

    Example:
        >>> logical_type(np.dtype("int32"))
        'integer'
    """
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def _column_spec(name: str, col: pd.Series) -> ColumnSpec:
    kind = logical_type(col.dtype)
    if kind == "string" and col.dtype == object:
        inferred = pd.api.types.infer_dtype(col, skipna=True)
        kind = {"boolean": "boolean", "integer": "integer", "floating": "float",
                "mixed-integer-float": "float", "datetime": "datetime"}.get(inferred, "string")
    categories = None
    if isinstance(col.dtype, pd.CategoricalDtype):
        categories = tuple(_jsonable(v) for v in col.dtype.categories)
    return ColumnSpec(name=str(name), type=kind, nullable=bool(col.isna().any()),
                      categories=categories, dtype=str(col.dtype))


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _example_frame(example: Any, model: Any) -> pd.DataFrame:
    if isinstance(example, pd.DataFrame):
        return example
    if isinstance(example, pd.Series):
        return example.to_frame().T.infer_objects()
    if isinstance(example, dict):
        return pd.DataFrame([example])
    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        return pd.DataFrame(example)
    array = np.asarray(example)
    if array.ndim != 2:
        raise InvalidInput(
            f"input_example must be a DataFrame, a dict, a list of dicts or a 2-D array; "
            f"got an array of shape {array.shape}"
        )
    names = getattr(model, "feature_names_in_", None)
    if names is None or len(names) != array.shape[1]:
        names = [f"f{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=[str(n) for n in names])


def _outputs(model: Any, frame: pd.DataFrame | None) -> OutputSpec:
    from sklearn.base import is_classifier, is_regressor

    has_proba = hasattr(model, "predict_proba")
    classes = getattr(model, "classes_", None)
    if is_classifier(model):
        task = "classification"
    elif is_regressor(model):
        task = "regression"
    elif _is_clusterer(model):
        task = "clustering"
    elif getattr(model, "_estimator_type", None) == "ranker":
        task = "ranking"
    else:
        task = "other"
    prediction_type = "float" if task == "regression" else "integer"
    if classes is not None:
        prediction_type = logical_type(np.asarray(classes).dtype)
    if frame is not None and len(frame) and hasattr(model, "predict"):
        sample: Any = frame.head(5)
        if not hasattr(model, "feature_names_in_"):
            sample = sample.to_numpy()
        try:
            prediction = np.asarray(model.predict(sample))
        except Exception as exc:
            raise InvalidInput(
                f"the model cannot predict its input_example ({type(exc).__name__}: {exc}); "
                "pass rows shaped like the data it was fitted on"
            ) from exc
        prediction_type = "list" if prediction.ndim == 2 else logical_type(prediction.dtype)
    return OutputSpec(
        task=task,
        prediction_type=prediction_type,
        classes=None if classes is None else tuple(_jsonable(c) for c in classes),
        predict_proba=has_proba,
    )


def _is_clusterer(model: Any) -> bool:
    import sklearn.base

    check = getattr(sklearn.base, "is_clusterer", None)  # scikit-learn >= 1.6
    if check is not None:
        return bool(check(model))
    return getattr(model, "_estimator_type", None) == "clusterer"


def infer_signature(input_example: Any = None, model: Any = None) -> Signature:
    """Infer a signature from an example of the input and, optionally, the fitted model.

    Args:
        input_example: a DataFrame (best: its dtypes are kept), a dict (one record), a list
            of dicts, or a 2-D array (columns named after ``model.feature_names_in_`` or
            ``f0, f1, ...``). Columns with missing values become nullable.
        model: the fitted model; gives the task, the classes, whether it has
            ``predict_proba``, and the prediction type (by predicting the first rows).

    Returns:
        The signature.

    Raises:
        InvalidInput: the example has an unusable shape, or the model cannot predict it.

    Example:
        >>> frame = pd.DataFrame({"amount": [1.5, 2.0], "country": ["DE", "FR"]})
        >>> [(c.name, c.type) for c in infer_signature(frame).inputs]
        [('amount', 'float'), ('country', 'string')]
    """
    frame = None if input_example is None else _example_frame(input_example, model)
    inputs = None
    if frame is not None:
        if len(frame.columns) == 0:
            raise InvalidInput("input_example has no columns")
        inputs = tuple(_column_spec(str(n), frame[n]) for n in frame.columns)
    outputs = OutputSpec() if model is None else _outputs(model, frame)
    return Signature(inputs=inputs, outputs=outputs)


def signature_from(value: Signature | dict[str, Any] | str) -> Signature:
    """A :class:`Signature` from itself, its dict form, or its JSON text."""
    if isinstance(value, Signature):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"signature is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(
            f"signature must be a Signature or its dict form, not {type(value).__name__}")
    return Signature.from_dict(value)
