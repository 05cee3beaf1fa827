"""Live sketches: what the server would feed them, read as current drift without a batch
job, agreeing with the batch computation on the same rows; the sliding window forgets."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from _scenario import FEATURES, Scenario, make_frame

from modelyard.monitor import FeatureSketches, build_profile, compute_drift


def test_sketches_read_current_drift_like_the_batch_job(scenario: Scenario) -> None:
    sketches = scenario.yard.monitor.sketches("fraud@champion")
    rng = np.random.default_rng(3)
    frames = [make_frame(rng, 100, shift=1.0) for _ in range(10)]
    for frame in frames:  # the server's micro-batches: a 2-D array in signature order
        matrix = frame[FEATURES].to_numpy(dtype=object)
        proba = scenario.model.predict_proba(frame[FEATURES])
        sketches.update(matrix, proba.argmax(axis=1), proba)
    live = sketches.drift()
    assert live.drifted == ("x2",) and sketches.rows == 1000
    import pandas as pd

    whole = pd.concat(frames)
    batch = compute_drift(sketches.profile.features, whole, sketches.thresholds)
    assert live == batch
    assert {f.name for f in sketches.prediction_drift().features} == {"prediction", "score"}
    body = sketches.to_dict()
    assert body["rows"] == 1000 and body["drift"]["features"][2]["drifted"]


def test_the_window_slides_and_forgets(scenario: Scenario) -> None:
    profile = scenario.yard.monitor.profile("fraud@champion")
    now = [1000.0]
    sketches = FeatureSketches(profile, window_s=60, slots=6, clock=lambda: now[0])
    shifted = make_frame(np.random.default_rng(4), 500, shift=2.0)
    sketches.update(shifted)
    assert sketches.drift().drifted == ("x2",)
    now[0] += 61  # past the window: the shifted rows are forgotten
    sketches.update(make_frame(np.random.default_rng(5), 500))
    assert sketches.drift().drifted == ()
    with pytest.raises(ValueError, match="5 columns"):
        sketches.update(np.zeros((3, 2)))


def test_concurrent_updates_lose_nothing(scenario: Scenario) -> None:
    sketches = scenario.yard.monitor.sketches("fraud@champion")
    frame = make_frame(np.random.default_rng(6), 50)

    def feed() -> None:
        for _ in range(20):
            sketches.update({c: frame[c] for c in FEATURES})

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sketches.drift()["x0"].n == 4 * 20 * 50


def test_a_wide_float_matrix_is_counted_like_the_batch_job() -> None:
    """What serve feeds for an image model: small float batches of many pixel columns in
    signature order, with missing values; the live drift equals the batch drift."""
    rng = np.random.default_rng(7)
    names = [f"px{j}" for j in range(300)]

    def pixels(n: int, ink: float) -> np.ndarray:
        return np.where(rng.random((n, len(names))) < ink, rng.integers(1, 256, (n, 300)) / 255,
                        0.0)

    reference = pixels(3000, 0.2)
    profile = build_profile({n: reference[:, j] for j, n in enumerate(names)},
                            dict.fromkeys(names, "float"), ranges=dict.fromkeys(names, (0, 1)))
    sketches = FeatureSketches(profile)
    batches = [pixels(5, 0.5) for _ in range(60)]
    for batch in batches:
        batch[0, ::17] = np.nan
        batch[1, ::29] = 2.0  # out of the allowed range
        sketches.update(batch, columns=names)
    whole = np.concatenate(batches)
    batch_drift = compute_drift(profile.features, {n: whole[:, j] for j, n in enumerate(names)},
                                sketches.thresholds)
    assert sketches.drift() == batch_drift and sketches.rows == 300
    assert batch_drift["px0"].missing_rate > 0 and batch_drift["px29"].out_of_range_rate > 0
    assert len(batch_drift.drifted) > 100  # twice the ink: most pixels drift
    assert sketches.to_dict()["rows"] == 300
