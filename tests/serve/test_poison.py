"""Poison rows cost their sender, not everyone: a failed batch is split in halves (not
retried request by request), and rows a float32 model cannot take never join a batch."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

import modelyard
from _serving import in_process
from modelyard.serve import MicroBatcher, create_app


def test_one_failing_request_costs_its_neighbours_log2_calls_not_one_each() -> None:
    calls: list[int] = []

    def predict(items: list[int]) -> list[int]:
        calls.append(len(items))
        if 13 in items:
            raise ValueError("Input X contains a value too large for dtype('float32')")
        return [x * 10 for x in items]

    async def main() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(predict, max_batch_size=64,
                                                       max_wait_ms=200, expected=lambda: 1)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(64)),
                                       return_exceptions=True)
        await batcher.close()
        assert batcher.splits > 0
        return list(results)

    results = asyncio.run(main())
    assert isinstance(results[13], ValueError)
    assert [r for i, r in enumerate(results) if i != 13] == [i * 10 for i in range(64)
                                                            if i != 13]
    # the batch of 64 and then 2 halves per level down to the one: 1 + 2 * 6 calls
    assert len(calls) <= 1 + 2 * 6, calls
    assert sum(calls) <= 64 * 3


def test_rows_beyond_float32_are_refused_before_the_batch(yard: modelyard.Yard) -> None:
    frame = pd.DataFrame({"amount": np.linspace(0, 9, 40), "count": np.arange(40.0)})
    labels = (frame["amount"] > 4).astype(int)
    yard.models.register("fraud", RandomForestClassifier(n_estimators=5, random_state=0)
                         .fit(frame, labels), input_example=frame.head(5))
    app = create_app(yard, ["fraud"], log_root=yard.settings.state_dir / "p")

    async def test(client: httpx.AsyncClient) -> None:
        served = app.state.modelyard.table.served["fraud"].current
        before = served.batcher.batches
        r = await client.post("/v1/models/fraud/predict",
                              content=json.dumps([{"amount": 1.0, "count": 1e308},
                                                  {"amount": -1e300, "count": 2.0}]))
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"] == "ValidationFailed" and "float32" in body["message"]
        assert {v["column"] for v in body["violations"]} == {"amount", "count"}
        assert served.batcher.batches == before  # it never reached the model
        ok = await client.post("/v1/models/fraud/predict",
                               json={"amount": 3.0e38, "count": 1.0})
        assert ok.status_code == 200

    in_process(app, test)
