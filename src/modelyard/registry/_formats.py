"""How a model object becomes a file and back: skops (default), pickle (opt-in), ONNX.

skops records, at registration, exactly which types the file needs that skops does not trust
by default; loading trusts exactly those. That is safe because the file is loaded only after
its sha256 matched the registered one: it is the file that was checked when it was saved.
"""

from __future__ import annotations

import abc
import importlib
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InvalidInput
from ._signature import Signature

__all__ = ["FORMATS", "ModelFormat", "OnnxFormat", "PickleFormat", "SkopsFormat", "get_format"]


class ModelFormat(abc.ABC):
    """A way to store a model object in one file."""

    name: ClassVar[str]
    safe: ClassVar[bool] = True

    @abc.abstractmethod
    def save(self, model: Any, path: Path, signature: Signature) -> dict[str, Any]:
        """Write ``model`` to ``path``; return what :meth:`load` needs to read it back.

        Raises:
            InvalidInput: the model cannot be stored in this format.
        """

    @abc.abstractmethod
    def load(self, path: Path, info: dict[str, Any]) -> Any:
        """Read the model back from a file whose hash has been checked."""


class SkopsFormat(ModelFormat):
    """scikit-learn objects through ``skops.io``, which never runs arbitrary code on load."""

    name = "skops"

    def save(self, model: Any, path: Path, signature: Signature) -> dict[str, Any]:
        import skops
        import skops.io as sio

        hint = "; register it with format='pickle' if you trust everyone who can load it"
        try:
            sio.dump(model, path)
            trusted = sorted(sio.get_untrusted_types(file=path))
            # A file that dumps but cannot be read back (lambdas, local classes) is no model.
            sio.load(path, trusted=trusted)
        except Exception as exc:
            raise InvalidInput(
                f"skops cannot store a {type(model).__name__} ({type(exc).__name__}: {exc})"
                + hint
            ) from exc
        return {"skops_trusted": trusted, "skops_version": skops.__version__}

    def load(self, path: Path, info: dict[str, Any]) -> Any:
        import skops.io as sio

        return sio.load(path, trusted=list(info.get("skops_trusted", [])))


class PickleFormat(ModelFormat):
    """Plain pickle: any Python object, but loading runs code; opt-in on both sides."""

    name = "pickle"
    safe = False

    def save(self, model: Any, path: Path, signature: Signature) -> dict[str, Any]:
        try:
            with open(path, "wb") as fh:
                pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise InvalidInput(
                f"the {type(model).__name__} cannot be pickled ({exc}); define its functions "
                "and classes at module level"
            ) from exc
        return {"pickle_protocol": pickle.HIGHEST_PROTOCOL}

    def load(self, path: Path, info: dict[str, Any]) -> Any:
        with open(path, "rb") as fh:
            # Models.load refuses this format unless the caller opted in.
            return pickle.load(fh)


class OnnxModel:
    """An ONNX graph behind scikit-learn's ``predict`` / ``predict_proba``.

    Args:
        path: the ``.onnx`` file.
        has_proba: whether the graph has a probability output.
    """

    def __init__(self, path: Path, *, has_proba: bool) -> None:
        onnxruntime = importlib.import_module("onnxruntime")
        self._session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._has_proba = has_proba

    def _run(self, X: Any) -> list[Any]:
        array = np.asarray(X, dtype=np.float32)
        return list(self._session.run(None, {self._input: array}))

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """The graph's first output: labels or values."""
        return np.asarray(self._run(X)[0]).ravel()

    def __getattr__(self, name: str) -> Any:
        if name == "predict_proba" and self.__dict__.get("_has_proba"):
            return lambda X: np.asarray(self._run(X)[1])
        raise AttributeError(name)


class OnnxFormat(ModelFormat):
    """ONNX through skl2onnx; served by onnxruntime. Numeric inputs only (one float tensor).

    Needs the ``onnx`` extra: ``pip install 'modelyard[onnx]'``.
    """

    name = "onnx"

    def save(self, model: Any, path: Path, signature: Signature) -> dict[str, Any]:
        try:
            skl2onnx = importlib.import_module("skl2onnx")
            tensor_type = importlib.import_module("skl2onnx.common.data_types").FloatTensorType
        except ImportError as exc:
            raise InvalidInput(
                "format='onnx' needs skl2onnx and onnxruntime: pip install 'modelyard[onnx]'"
            ) from exc
        if signature.inputs is None or any(
                c.type not in {"float", "integer", "boolean"} for c in signature.inputs):
            raise InvalidInput(
                "format='onnx' needs an input_example whose columns are all numeric; "
                "use format='skops' for models with string, categorical or date inputs"
            )
        has_proba = signature.outputs.predict_proba
        options = {id(model): {"zipmap": False}} if has_proba else None
        try:
            onx = skl2onnx.convert_sklearn(
                model, initial_types=[("X", tensor_type([None, len(signature.inputs)]))],
                options=options)
        except Exception as exc:
            raise InvalidInput(
                f"skl2onnx cannot convert a {type(model).__name__} ({exc}); use format='skops'"
            ) from exc
        path.write_bytes(onx.SerializeToString())
        return {"onnx_has_proba": has_proba, "skl2onnx_version": skl2onnx.__version__}

    def load(self, path: Path, info: dict[str, Any]) -> Any:
        try:
            return OnnxModel(path, has_proba=bool(info.get("onnx_has_proba")))
        except ImportError as exc:
            raise InvalidInput(
                "this version is stored as ONNX; install onnxruntime to load it: "
                "pip install 'modelyard[onnx]'"
            ) from exc


FORMATS: dict[str, ModelFormat] = {f.name: f for f in (SkopsFormat(), PickleFormat(),
                                                        OnnxFormat())}


def get_format(name: str) -> ModelFormat:
    """The format called ``name``. Raises InvalidInput naming the known formats."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown model format {name!r}; use one of: {', '.join(FORMATS)}"
        ) from None
