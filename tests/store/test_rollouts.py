"""Rollouts: one open per model, stages advance, outcomes are final."""

from __future__ import annotations

import pytest

from modelyard.errors import Conflict, InvalidInput
from modelyard.store import Store


def test_a_rollout_moves_from_shadow_to_canary_to_an_outcome(store: Store) -> None:
    repo = store.rollouts
    assert repo.current("fraud") is None
    r = repo.start("fraud", champion_version=1, challenger_version=2, reason="drift alert")
    assert (r.stage, r.canary_share, r.is_open) == ("shadow", 0.0, True)
    with pytest.raises(Conflict, match="already rolls out version 2"):
        repo.start("fraud", champion_version=1, challenger_version=3)
    canary = repo.advance(r.id, stage="canary", canary_share=0.2, reason="shadow held")
    assert canary.stage == "canary" and canary.stage_started_at >= r.stage_started_at
    assert [o.model for o in repo.open_rollouts()] == ["fraud"]
    done = repo.end(r.id, outcome="promoted", reason="canary held for 10 min")
    assert not done.is_open and repo.current("fraud") is None
    with pytest.raises(Conflict, match="already ended"):
        repo.advance(r.id, stage="canary", canary_share=0.5)
    assert [h.stage for h in repo.history("fraud")] == ["promoted"]


def test_bad_stages_and_shares_are_refused(store: Store) -> None:
    with pytest.raises(InvalidInput, match="stage"):
        store.rollouts.start("m", champion_version=1, challenger_version=2, stage="live")
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        store.rollouts.start("m", champion_version=1, challenger_version=2, stage="canary",
                             canary_share=1.5)
    r = store.rollouts.start("m", champion_version=1, challenger_version=2)
    with pytest.raises(InvalidInput, match="outcome"):
        store.rollouts.end(r.id, outcome="maybe", reason="")
