"""Serving latency of a registered model, measured through the prediction API in-process.

Used by the images and movies recipes to report what one request costs end to end (request
validation against the signature, micro-batching, the model, the JSON answer), without a
socket; the loop's showcase measures the same over real HTTP.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..yard import Yard

__all__ = ["serving_latency_ms"]


def serving_latency_ms(yard: Yard, ref: str, records: list[dict[str, Any]]) -> dict[str, float]:
    """p50 and p99 latency (ms) of one-record requests to ``ref``, one after another, through
    the app in-process (``api_latency_p50_ms``, ``api_latency_p99_ms``; no socket).

    Args:
        yard: the yard whose registry holds the model.
        ref: what to serve, e.g. ``"movies@champion"``.
        records: the request bodies, one record each.

    Raises:
        httpx.HTTPStatusError: a request was not answered with 200.
    """
    import httpx

    from ..serve import create_app

    app = create_app(yard, [ref])
    timings: list[float] = []

    async def main() -> None:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
            for _ in range(500):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.02)
            for record in records:
                began = time.perf_counter()
                answer = await client.post(f"/v1/models/{ref}/predict", json=record)
                answer.raise_for_status()
                timings.append((time.perf_counter() - began) * 1000)

    asyncio.run(main())
    return {"api_latency_p50_ms": float(np.percentile(timings, 50)),
            "api_latency_p99_ms": float(np.percentile(timings, 99))}
