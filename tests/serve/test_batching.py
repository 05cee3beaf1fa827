"""MicroBatcher: concurrent submissions gathered into one call, each caller its own result."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from modelyard.serve import MicroBatcher


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_concurrent_requests_share_calls_and_get_their_own_results() -> None:
    calls: list[list[int]] = []

    def predict(items: list[int]) -> list[int]:
        calls.append(list(items))
        time.sleep(0.005)
        return [x * 10 for x in items]

    async def main() -> list[int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(predict, max_batch_size=16)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(50)))
        await batcher.close()
        return list(results)

    assert run(main()) == [i * 10 for i in range(50)]
    assert len(calls) < 50 and max(len(c) for c in calls) <= 16
    assert sorted(x for c in calls for x in c) == list(range(50))


def test_a_lone_request_does_not_wait() -> None:
    async def main() -> float:
        batcher: MicroBatcher[int, int] = MicroBatcher(lambda xs: xs, max_wait_ms=500,
                                                       expected=lambda: 0)
        started = time.perf_counter()
        await batcher.submit(1)
        elapsed = time.perf_counter() - started
        await batcher.close()
        return elapsed

    assert run(main()) < 0.2  # type: ignore[operator]


def test_it_waits_for_requests_known_to_be_coming() -> None:
    sizes: list[int] = []
    coming = [1]

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(
            lambda xs: xs, max_wait_ms=200, expected=lambda: coming[0],
            on_batch=lambda rows, _s: sizes.append(rows))
        first = batcher.submit(1)
        await asyncio.sleep(0.02)
        coming[0] = 0
        second = batcher.submit(2)
        assert await asyncio.gather(first, second) == [1, 2]
        await batcher.close()

    run(main())
    assert sizes == [2]


def test_batches_grow_to_the_callers_who_keep_coming_back() -> None:
    """16 callers, each sending its next request a little after its answer (as keep-alive
    clients under load do): the batcher waits for them rather than predicting the few
    already queued, so batches hold most of the 16, and a lone caller later never waits
    longer than max_wait_ms."""
    sizes: list[int] = []

    def predict(items: list[int]) -> list[int]:
        time.sleep(0.003)  # a model whose call costs the same for 1 or 16 rows
        return items

    async def caller(batcher: MicroBatcher[int, int], me: int) -> None:
        for i in range(25):
            assert await batcher.submit(me * 100 + i) == me * 100 + i
            await asyncio.sleep(0.0002 + 0.0001 * (me % 8))  # back at staggered times

    async def main() -> float:
        batcher: MicroBatcher[int, int] = MicroBatcher(
            predict, max_batch_size=64, max_wait_ms=20,
            on_batch=lambda rows, _s: sizes.append(rows))
        await asyncio.gather(*(caller(batcher, me) for me in range(16)))
        started = time.perf_counter()
        for i in range(40):  # alone now: the wait decays away
            await batcher.submit(i)
        alone = time.perf_counter() - started
        await batcher.close()
        return alone

    alone = run(main())
    busy = sizes[:-40]
    assert sum(busy) == 16 * 25
    assert sum(busy) / len(busy) >= 12, busy  # at most 4 requests short of 16 on average
    assert alone < 40 * 0.003 + 0.2, alone  # a few lone waits of max_wait_ms (20 ms) at most
    assert sizes[-40:] == [1] * 40


def test_rows_count_toward_the_batch_size() -> None:
    sizes: list[int] = []

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(
            lambda xs: xs, max_batch_size=10, on_batch=lambda rows, _s: sizes.append(rows))
        await asyncio.gather(*(batcher.submit(i, rows=4) for i in range(5)),
                             batcher.submit(99, rows=25))
        await batcher.close()

    run(main())
    assert max(sizes) == 25 and all(s <= 10 for s in sizes if s != 25)


def test_a_failing_request_does_not_fail_its_batch() -> None:
    def predict(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("three")
        return items

    async def main() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(predict)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(6)),
                                   return_exceptions=True)
        await batcher.close()
        return list(out)

    out = run(main())
    assert isinstance(out, list)
    assert [type(x).__name__ for x in out] == ["int"] * 3 + ["ValueError"] + ["int"] * 2


def test_close_finishes_what_is_queued_and_runs_in_its_own_thread() -> None:
    threads: set[str] = set()

    def predict(items: list[int]) -> list[int]:
        threads.add(threading.current_thread().name)
        time.sleep(0.01)
        return items

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(predict, max_batch_size=2, name="t")
        futures = [batcher.submit(i) for i in range(7)]
        await batcher.close()
        assert [f.result() for f in futures] == list(range(7))
        with pytest.raises(RuntimeError):
            batcher.submit(1)

    run(main())
    assert threads and all(t.startswith("modelyard-t") for t in threads)


def test_the_batch_hook_sees_the_tagged_requests_that_got_their_answer() -> None:
    """``on_done`` (the prediction log's entry per batch) gets each tagged request that was
    answered, in order, before its caller resumes; not an untagged one, not one that failed
    and not one whose caller gave up while the batch was predicted."""
    done: list[list[tuple[object, int, int]]] = []
    resumed_before_hook: list[bool] = []
    predicting = threading.Event()
    answered: list[int] = []

    def predict(items: list[int]) -> list[int]:
        predicting.set()
        time.sleep(0.05)
        if 13 in items:
            raise ValueError("13 upsets the model")
        return [x * 10 for x in items]

    def hook(batch: list[tuple[object, int, int]]) -> None:
        resumed_before_hook.append(bool(answered))
        done.append(batch)

    async def main() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(predict, max_wait_ms=50,
                                                       expected=lambda: 0, on_done=hook)
        keep = batcher.submit(1, tag="one")
        untagged = batcher.submit(2)
        fails = batcher.submit(13, tag="thirteen")
        gives_up = batcher.submit(4, tag="four")
        also = batcher.submit(5, tag="five")
        await asyncio.to_thread(predicting.wait, 5)
        gives_up.cancel()
        answered.append(await keep)
        assert await untagged == 20 and await also == 50
        with pytest.raises(ValueError, match="13 upsets"):
            await fails
        await batcher.close()

    run(main())
    assert [entry for batch in done for entry in batch] == [("one", 1, 10), ("five", 5, 50)]
    assert resumed_before_hook and not any(resumed_before_hook)
