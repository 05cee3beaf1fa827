"""Merged rollout stats in a worker or replica (``_shared``): a ``/stats`` read that waits for
the other workers' writes while the registry poll ends the rollout still answers, from the
rollout it started on (it was a 500: the poll had removed the route the read then looked up)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pandas as pd
from sklearn.linear_model import LogisticRegression

import modelyard
from _serving import in_process
from modelyard.serve import create_app
from modelyard.serve._shared import SharedState
from modelyard.serve._worker import Worker

FRAME = pd.DataFrame({"amount": [1.0, 5.0, 3.0, 9.0], "count": [1, 2, 3, 4]})
LABELS = pd.Series([0, 1, 0, 1])


def test_a_stats_read_outlived_by_its_rollout_still_answers(tmp_path: Path) -> None:
    with modelyard.open(tmp_path / "project") as yard:
        for c in (1.0, 0.1):
            yard.models.register("cancer", LogisticRegression(C=c).fit(FRAME, LABELS),
                                 input_example=FRAME)
        yard.models.alias("cancer", "champion", 1)
        app = create_app(yard, ["cancer@champion"], log_root=tmp_path / "log")
        state = app.state.modelyard
        shared = SharedState.create(tmp_path / "shared", 2)
        Worker(state, shared, 0, None, time.time()).install(app)
        # a second worker that is ready but never writes: each read waits 2 s for it
        shared.mark_ready(1, 2**22 + 1)
        rollout = yard.store.rollouts.start("cancer", champion_version=1, challenger_version=2,
                                            stage="canary", canary_share=0.5)

        async def check(client: httpx.AsyncClient) -> None:
            await state.refresh()  # the poll finds the rollout
            read = asyncio.ensure_future(client.get("/v1/models/cancer/stats"))
            await asyncio.sleep(0.5)  # the read is waiting for the silent worker
            yard.store.rollouts.end(rollout.id, outcome="rolled_back", reason="test")
            await state.refresh()  # the poll ends the route under the read
            answer = await read
            assert answer.status_code == 200, answer.text
            assert answer.json()["rollout"]["id"] == rollout.id
            after = await client.get("/v1/models/cancer/stats")
            assert after.status_code == 200 and after.json()["rollout"] is None

        in_process(app, check)
