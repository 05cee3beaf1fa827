"""ONNX graphs as model versions: from a file, from a PyTorch module, from scikit-learn.

Three ways in, one way out. An ``.onnx`` file (a path or its bytes) is taken as it is; a
PyTorch ``nn.Module`` is exported at registration from an example input (the batch axis made
dynamic, the export checked against the module's own output); a scikit-learn model is
converted by skl2onnx; an estimator with a ``to_onnx()`` method (the images recipe's CNN)
exports itself. Every graph is then served by ONNX Runtime behind scikit-learn's
``predict``/``predict_proba`` (:class:`OnnxModel`), so it is validated, batched, logged and
monitored like any other version.

The signature comes from the graph when none is given: a ``[batch, k]`` input is ``k`` float
columns ``f0…``; a ``[batch, channels, height, width]`` input (channels 1 or 3) is its pixel
columns ``px0…`` in row-major, channel-last order plus an ``image`` field, so callers may
post the image itself. Outputs: two (a label and a ``[batch, classes]`` probability tensor,
as skl2onnx writes them), or one: ``[batch, k>1]`` scores (probabilities when each row sums to
one, else logits, turned into probabilities by a softmax) or ``[batch]``/``[batch, 1]``
values (a regressor).

This module never imports torch: a module handed in has already loaded it.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ._signature import ColumnSpec, OutputSpec, Signature

__all__ = ["OnnxGraph", "OnnxModel", "graph_from", "is_onnx_source", "is_torch_module"]

_Array = np.ndarray[Any, Any]
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32}
_EXTRA = "pip install 'modelyard[onnx]'"


def _runtime() -> Any:
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise InvalidInput(f"ONNX models need onnxruntime: {_EXTRA}") from exc


def _session(graph: bytes | str) -> Any:
    runtime = _runtime()
    options = runtime.SessionOptions()
    options.log_severity_level = 3  # no warnings on stderr for every load
    try:
        return runtime.InferenceSession(graph, sess_options=options,
                                        providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise InvalidInput(f"ONNX Runtime cannot load this graph ({type(exc).__name__}: "
                           f"{str(exc)[:300]}); export it again, or check its opset") from exc


def is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a PyTorch ``nn.Module`` (without importing torch)."""
    return any(c.__name__ == "Module" and c.__module__.startswith("torch.nn")
               for c in type(model).__mro__)


def is_onnx_source(model: Any) -> bool:
    """Whether ``model`` is an ONNX graph as a ``.onnx`` path, its bytes, or an
    ``onnx.ModelProto``; a torch module; or an estimator that exports itself (``to_onnx``)."""
    if isinstance(model, str | Path):
        return str(model).lower().endswith(".onnx")
    if isinstance(model, bytes | bytearray):
        return True
    return (type(model).__name__ == "ModelProto" or is_torch_module(model)
            or callable(getattr(model, "to_onnx", None)))


@dataclass(frozen=True)
class OnnxGraph:
    """A serialised graph ready to store, with what serving needs to read its outputs.

    Attributes:
        data: the ``.onnx`` bytes.
        info: stored with the version (``onnx_outputs``, ``onnx_input_shape``, classes).
        signature: the signature read from the graph.
    """

    data: bytes
    info: dict[str, Any]
    signature: Signature


def _example_array(example: Any) -> _Array | None:
    if example is None:
        return None
    if hasattr(example, "detach"):  # a torch tensor
        example = example.detach().cpu().numpy()
    if hasattr(example, "to_numpy"):
        example = example.to_numpy()
    return np.asarray(example)


def _torch_graph(module: Any, example: _Array | None) -> bytes:
    """Export a torch module with a dynamic batch axis; check ONNX Runtime agrees with it."""
    if example is None or example.ndim < 2:
        raise InvalidInput("registering a torch module needs input_example: one batch of its "
                           "input, e.g. torch.zeros(1, 1, 28, 28) for 28x28 grey images")
    torch = sys.modules["torch"]  # loaded: the module handed in is a torch object
    batch = np.concatenate([example, example]) if len(example) == 1 else example
    inputs = torch.as_tensor(np.ascontiguousarray(batch, dtype=np.float32))
    was_training = bool(module.training)
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            expected = module(inputs).detach().cpu().numpy()
            if importlib.util.find_spec("onnxscript") is not None:
                program = torch.onnx.export(
                    module, (inputs,), dynamo=True, input_names=["input"],
                    output_names=["output"], verbose=False,
                    dynamic_shapes=({0: torch.export.Dim("batch")},))
                data = program.model_proto.SerializeToString()
            else:  # the TorchScript exporter: needs no onnxscript
                buffer = io.BytesIO()
                torch.onnx.export(module, (inputs,), buffer, dynamo=False,
                                  input_names=["input"], output_names=["output"],
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
                data = buffer.getvalue()
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"torch could not export the {type(module).__name__} to ONNX "
                           f"({type(exc).__name__}: {str(exc)[:300]})") from exc
    finally:
        module.train(was_training)
    got = _session(data).run(None, {"input": inputs.numpy()})[0]
    if not np.allclose(got, expected, rtol=1e-3, atol=1e-4):
        raise InvalidInput(f"the ONNX export of the {type(module).__name__} does not compute "
                           "what the module does (largest difference "
                           f"{float(np.abs(got - expected).max()):.3g}); it may branch on "
                           "its input's values, which export cannot follow")
    return bytes(data)


def graph_from(model: Any, input_example: Any = None,
               classes: tuple[Any, ...] | None = None) -> OnnxGraph:
    """The graph of an ``.onnx`` path, bytes or ModelProto, a torch module, or an estimator
    with ``to_onnx()``, with its signature and output reading.

    Args:
        model: the graph or what makes one.
        input_example: a batch of the input (needed for torch modules; for graphs whose
            input size is not fixed; a DataFrame names the columns).
        classes: the labels of a classifier's score columns (``0…k-1`` by default).

    Raises:
        InvalidInput: not a graph ONNX Runtime can run, an export that fails or disagrees
            with the module, or a graph with more than one input.
    """
    example = _example_array(input_example)
    if isinstance(model, str | Path):
        path = Path(model)
        if not path.is_file():
            raise InvalidInput(f"no ONNX file at {str(path)!r}")
        data = path.read_bytes()
    elif isinstance(model, bytes | bytearray):
        data = bytes(model)
    elif type(model).__name__ == "ModelProto":
        data = model.SerializeToString()
    elif is_torch_module(model):
        data = _torch_graph(model, example)
    else:
        data = bytes(model.to_onnx())
        if classes is None and getattr(model, "classes_", None) is not None:
            classes = tuple(np.asarray(model.classes_).tolist())
    return _describe(data, example, input_example, classes)


def _describe(data: bytes, example: _Array | None, raw_example: Any,
              classes: tuple[Any, ...] | None) -> OnnxGraph:
    session = _session(data)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise InvalidInput(f"the graph has {len(inputs)} inputs ({names}); modelyard serves "
                           "graphs with one input tensor")
    if inputs[0].type not in _DTYPES:
        raise InvalidInput(f"the graph's input is a {inputs[0].type}; modelyard serves "
                           "numeric tensors (float, double, int32, int64)")
    shape = list(inputs[0].shape)
    if example is not None and example.ndim == len(shape):
        shape = [None, *example.shape[1:]]
    fixed = [d if isinstance(d, int) and d > 0 else None for d in shape[1:]]
    if None in fixed:
        raise InvalidInput(f"the graph's input {inputs[0].name!r} has shape {shape}: pass "
                           "input_example (one batch) so its size is known")
    dims: list[int] = [int(d) for d in fixed if d is not None]
    image = (len(dims) == 3 and dims[0] in (1, 3)) or len(dims) == 2
    columns: tuple[ColumnSpec, ...]
    width = int(np.prod(dims))
    if image:
        columns = tuple(ColumnSpec(f"px{i}", "float", dtype="float32") for i in range(width))
    elif hasattr(raw_example, "columns") and len(raw_example.columns) == width:
        columns = tuple(ColumnSpec(str(c), "float", dtype="float32")
                        for c in raw_example.columns)
    else:
        columns = tuple(ColumnSpec(f"f{i}", "float", dtype="float32") for i in range(width))
    info: dict[str, Any] = {"onnx_input_shape": [None, *dims],
                            "onnx_input_dtype": inputs[0].type,
                            "onnx_batch_one": inputs[0].shape[0] == 1}
    probe = np.zeros((2, *dims))
    if example is not None and example.shape[1:] == tuple(dims):
        probe = example
    elif example is not None and example.ndim == 2 and example.shape[1] == width:
        probe = _to_graph(example, tuple(dims))  # pixel rows of a frame
    probe = probe.astype(_DTYPES[inputs[0].type])
    kinds = [o.type for o in outputs]
    if any(k.startswith("seq") or k.startswith("map") for k in kinds):
        raise InvalidInput("the graph outputs a map of probabilities (skl2onnx's ZipMap); "
                           "convert it with options={id(model): {'zipmap': False}}")
    results = session.run(None, {inputs[0].name: probe if not info["onnx_batch_one"]
                                 else probe[:1]})
    first = np.asarray(results[0])
    if len(results) >= 2 and first.ndim == 1:
        mode, n_scores = "sklearn", np.asarray(results[1]).shape[-1]
    elif first.ndim == 2 and first.shape[1] > 1:
        rows = first.sum(axis=1)
        mode = ("probabilities" if (first >= 0).all() and np.allclose(rows, 1, atol=1e-4)
                else "logits")
        n_scores = first.shape[1]
    else:
        mode, n_scores = "values", 0
    info["onnx_outputs"] = mode
    if mode == "values":
        outputs_spec = OutputSpec(task="regression", prediction_type="float")
    else:
        labels = tuple(range(n_scores)) if classes is None else tuple(classes)
        if len(labels) != n_scores:
            raise InvalidInput(f"classes names {len(labels)} labels, but the graph scores "
                               f"{n_scores} classes")
        info["classes"] = list(labels)
        kind = "string" if any(isinstance(c, str) for c in labels) else "integer"
        outputs_spec = OutputSpec(task="classification", prediction_type=kind,
                                  classes=labels, predict_proba=True)
    signature = Signature(inputs=columns, outputs=outputs_spec)
    if image:
        channels, height, width_px = (dims if len(dims) == 3 else [1, *dims])
        signature = signature.with_image("image", height=height, width=width_px,
                                         channels=channels, scale=1 / 255)
    return OnnxGraph(data=data, info=info, signature=signature)


def _to_graph(rows: _Array, shape: tuple[int, ...]) -> _Array:
    """Flat rows in the graph's input shape; pixel columns are channel-last, the graph's
    ``[channels, height, width]`` channel-first."""
    if len(shape) == 3:
        channels, height, width = shape
        return np.ascontiguousarray(rows.reshape(len(rows), height, width, channels)
                                    .transpose(0, 3, 1, 2))
    return rows.reshape(len(rows), *shape)


class OnnxModel:
    """An ONNX graph behind scikit-learn's ``predict`` / ``predict_proba``, run by ONNX
    Runtime on the CPU.

    Args:
        graph: the ``.onnx`` file or its bytes.
        info: what :func:`graph_from` (or the skl2onnx conversion) stored with the version.

    Example:
        >>> OnnxModel(path, info).predict(X)  # doctest: +SKIP
        array([0, 1])
    """

    def __init__(self, graph: Path | bytes, info: dict[str, Any]) -> None:
        self._session = _session(str(graph) if isinstance(graph, Path) else graph)
        first = self._session.get_inputs()[0]
        self._input = first.name
        self._dtype = _DTYPES.get(first.type, np.float32)
        shape = info.get("onnx_input_shape")
        self._shape = None if shape is None else tuple(int(d) for d in shape[1:])
        self._one = bool(info.get("onnx_batch_one"))
        # versions converted by skl2onnx before the mode was stored: label (+ probabilities)
        self._mode = str(info.get("onnx_outputs") or "sklearn")
        self._has_proba = self._mode in ("logits", "probabilities") or (
            self._mode == "sklearn" and bool(info.get("onnx_has_proba", True)))
        classes = info.get("classes")
        self.classes_ = None if classes is None else np.asarray(classes)

    def _batch(self, X: Any) -> _Array:
        array = np.asarray(X, dtype=self._dtype)
        if self._shape is None or array.shape[1:] == self._shape:
            return array
        return _to_graph(array, self._shape)

    def _run(self, X: Any) -> list[_Array]:
        batch = self._batch(X)
        if not self._one or len(batch) == 1:
            return [np.asarray(r) for r in self._session.run(None, {self._input: batch})]
        rows = [self._session.run(None, {self._input: batch[i:i + 1]})
                for i in range(len(batch))]
        return [np.concatenate([np.asarray(r[k]) for r in rows]) for k in range(len(rows[0]))]

    def _scores(self, X: Any) -> _Array:
        outputs = self._run(X)
        if self._mode == "sklearn":
            return np.asarray(outputs[1], dtype=np.float64)
        scores = np.asarray(outputs[0], dtype=np.float64)
        if self._mode == "logits":
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict(self, X: Any) -> _Array:
        """Labels (a classifier) or values (a regressor), one per row."""
        if self._mode == "sklearn" or self._mode == "values":
            return np.asarray(self._run(X)[0]).ravel()
        winners = np.argmax(self._scores(X), axis=1)
        return winners if self.classes_ is None else np.asarray(self.classes_[winners])

    def __getattr__(self, name: str) -> Any:
        if name == "predict_proba" and self.__dict__.get("_has_proba"):
            return self._scores
        raise AttributeError(name)
