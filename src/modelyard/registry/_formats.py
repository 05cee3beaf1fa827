"""How a model object becomes a file and back: skops (default), pickle (opt-in), ONNX (a
``.onnx`` file, a PyTorch module exported at registration, or a scikit-learn model converted
by skl2onnx; served by ONNX Runtime, see ``_onnx``).

skops records, at registration, exactly which types the file needs that skops does not trust
by default; loading trusts exactly those. That is safe because the file is loaded only after
its sha256 matched the registered one: it is the file that was checked when it was saved.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import importlib.util
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InvalidInput
from ._onnx import OnnxGraph, OnnxModel, graph_from, is_onnx_source
from ._signature import Signature

__all__ = ["FORMATS", "ModelFormat", "OnnxFormat", "PickleFormat", "SkopsFormat",
           "default_format", "get_format"]


class ModelFormat(abc.ABC):
    """A way to store a model object in one file."""

    name: ClassVar[str]
    safe: ClassVar[bool] = True

    def prepare(self, model: Any, input_example: Any = None,
                classes: tuple[Any, ...] | None = None) -> tuple[Any, Signature | None]:
        """What :meth:`save` will store, and the signature it implies (None: infer it from
        the model and the example as usual).

        Raises:
            InvalidInput: the model cannot be stored in this format.
        """
        return model, None

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


_CONVERTING = threading.Lock()


@contextlib.contextmanager
def _tree_flags_as_ints() -> Iterator[None]:
    """skl2onnx 1.20 writes a HistGradientBoosting leaf's missing-value flag as ``False``
    beside the branches' integers, and the onnx package (1.17 and newer) refuses a boolean in
    an integer list, so every HistGradientBoosting conversion fails. For the duration of one
    conversion (one at a time), the flag is passed on as the integer it means; the graph is
    the one skl2onnx meant to write (its probabilities equal scikit-learn's within 1e-7 on
    the breast-cancer set)."""
    try:
        module = importlib.import_module("skl2onnx.common.tree_ensemble")
    except ImportError:
        yield
        return
    add_node = getattr(module, "add_node", None)
    if add_node is None:
        yield
        return

    def as_int(*args: Any, **kwargs: Any) -> Any:
        flag = kwargs.get("nodes_missing_value_tracks_true")
        if isinstance(flag, bool):
            kwargs["nodes_missing_value_tracks_true"] = int(flag)
        return add_node(*args, **kwargs)

    with _CONVERTING:
        setattr(module, "add_node", as_int)  # noqa: B010
        try:
            yield
        finally:
            setattr(module, "add_node", add_node)  # noqa: B010


class OnnxFormat(ModelFormat):
    """ONNX, served by ONNX Runtime: a ``.onnx`` file (path, bytes or ``onnx.ModelProto``), a
    PyTorch ``nn.Module`` (exported here from ``input_example``), an estimator with
    ``to_onnx()``, or a scikit-learn model skl2onnx converts (numeric inputs only).

    Needs the ``onnx`` extra: ``pip install 'modelyard[onnx]'``.
    """

    name = "onnx"

    def prepare(self, model: Any, input_example: Any = None,
                classes: tuple[Any, ...] | None = None) -> tuple[Any, Signature | None]:
        if not is_onnx_source(model):
            return model, None  # a scikit-learn model: converted by save()
        graph = graph_from(model, input_example, classes)
        has_frame = hasattr(input_example, "columns") and hasattr(model, "predict")
        return graph, None if has_frame else graph.signature

    def save(self, model: Any, path: Path, signature: Signature) -> dict[str, Any]:
        if isinstance(model, OnnxGraph):
            path.write_bytes(model.data)
            return dict(model.info)
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
            with _tree_flags_as_ints():
                onx = skl2onnx.convert_sklearn(
                    model, initial_types=[("X", tensor_type([None, len(signature.inputs)]))],
                    options=options)
        except Exception as exc:
            cause = exc.__cause__ or exc
            raise InvalidInput(
                f"skl2onnx {skl2onnx.__version__} cannot convert a {type(model).__name__} "
                f"({type(cause).__name__}: {(str(cause).splitlines() or [''])[0][:200]}); "
                "use format='skops'"
            ) from exc
        path.write_bytes(onx.SerializeToString())
        info: dict[str, Any] = {"onnx_outputs": "sklearn", "onnx_has_proba": has_proba,
                                "skl2onnx_version": skl2onnx.__version__}
        if signature.outputs.classes is not None:
            info["classes"] = list(signature.outputs.classes)
        return info

    def load(self, path: Path, info: dict[str, Any]) -> Any:
        return OnnxModel(path, info)


FORMATS: dict[str, ModelFormat] = {f.name: f for f in (SkopsFormat(), PickleFormat(),
                                                        OnnxFormat())}


def default_format(model: Any) -> str:
    """``onnx`` for ONNX graphs, torch modules and estimators that export themselves (when
    onnxruntime is installed), ``skops`` for everything else."""
    if not is_onnx_source(model):
        return "skops"
    # an estimator that can also be stored by skops falls back to it without onnxruntime
    fallback = hasattr(model, "predict") and importlib.util.find_spec("onnxruntime") is None
    return "skops" if fallback else "onnx"


def get_format(name: str) -> ModelFormat:
    """The format called ``name``. Raises InvalidInput naming the known formats."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown model format {name!r}; use one of: {', '.join(FORMATS)}"
        ) from None
