"""Wide all-float inputs (an image's pixels) take one vectorised step, with the same result
and the same refusals as the per-column checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import ValidationFailed
from modelyard.registry import Signature, _inputs
from modelyard.registry._inputs import prepare_input
from modelyard.registry._signature import ColumnSpec

NAMES = [f"px{i}" for i in range(784)]
SIG = Signature(inputs=tuple(ColumnSpec(n, "float", dtype="float32") for n in NAMES))


def test_wide_float_frame_is_reordered_and_cast_in_one_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def per_column(*args: object) -> None:
        raise AssertionError("the per-column path ran")

    monkeypatch.setattr(_inputs, "_convert", per_column)
    frame = pd.DataFrame(np.random.default_rng(0).random((1, 784)), columns=NAMES)
    shuffled = frame[NAMES[::-1]]
    out = prepare_input(shuffled, SIG)
    assert list(out.columns) == NAMES and set(out.dtypes.astype(str)) == {"float32"}
    assert np.allclose(out.to_numpy(), frame.to_numpy())


def test_wide_frame_with_problems_is_still_refused() -> None:
    frame = pd.DataFrame(np.zeros((2, 784)), columns=NAMES)
    frame.iloc[0, 3] = np.nan
    with pytest.raises(ValidationFailed, match="px3"):
        prepare_input(frame, SIG)
    with pytest.raises(ValidationFailed, match="px9"):
        prepare_input(frame.drop(columns=["px9"]).fillna(0), SIG)
    text = frame.fillna(0).astype(object)
    text.iloc[1, 5] = "dark"
    with pytest.raises(ValidationFailed, match="px5"):
        prepare_input(text, SIG)
