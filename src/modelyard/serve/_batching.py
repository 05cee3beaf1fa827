"""Adaptive micro-batching: concurrent requests for one model version, predicted in one call.

Requests queue on the event loop; one task per batcher takes what is queued (up to
``max_batch_size`` rows), waits at most ``max_batch_wait_ms`` for more only while more are
expected, and predicts the batch in the batcher's own thread so the event loop keeps reading
requests meanwhile. A lone request, with no concurrency seen lately, never waits at all.

More are expected when a request has started but is not yet queued (``expected()``), or
while the batch holds fewer rows than the recent concurrency: the most rows that were in the
batcher at once (queued and predicting) when a recent batch ended, decaying by a tenth per
batch, and halved when a wait ends at its deadline short of it. Under load the callers of
the batch just answered send their next requests at once; waiting for them, instead of
predicting the few already queued, keeps the batch as large as the traffic allows. On a busy
core this matters most: the model's thread and the event loop share it, so a batch started
early takes the core from the loop while the rest of the requests are still being read, and
under load the batches shrink to what the loop reads during one call (for scikit-learn's
HistGradientBoosting, whose calls cost about the same for 1 or 64 rows, that is most of the
throughput).

If a batch fails, it is split in halves and each half predicted again, down to the request
that fails alone: one request that passed validation but still upsets the model fails only
itself, and costs its neighbours about ``2 * log2(batch)`` extra calls instead of one call
per request (rows a model is known to refuse are screened out before batching, in
``_screening``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["MicroBatcher"]

_LOG = logging.getLogger("modelyard.serve")

In = TypeVar("In")
Out = TypeVar("Out")


class _Pending(Generic[In, Out]):
    __slots__ = ("future", "item", "rows", "tag")

    def __init__(self, item: In, rows: int, future: asyncio.Future[Out], tag: Any) -> None:
        self.item = item
        self.rows = rows
        self.future = future
        self.tag = tag


class MicroBatcher(Generic[In, Out]):
    """Gathers concurrent calls into batches for a function of many items.

    Args:
        predict: called in a worker thread with a list of items; returns one result per
            item, in order.
        max_batch_size: the most rows in one call (a single larger request goes alone).
        max_wait_ms: the longest the first request of a batch waits for others.
        expected: how many requests are on their way (started, not yet submitted); the
            batcher only waits while this is positive.
        on_batch: called after each batch with ``(rows, seconds)`` (metrics).
        on_done: called on the event loop after each batch, before its callers resume,
            with ``(tag, item, result)`` for each request submitted with a tag that got its
            result (not one whose caller gave up, nor one that failed): the prediction
            log's one entry per batch.
        name: names the worker thread.
        thread_init: run once in the worker thread before the first call.

    Example:
        >>> batcher = MicroBatcher(lambda items: [x * 2 for x in items])  # doctest: +SKIP
        >>> await batcher.submit(21)  # doctest: +SKIP
        42
    """

    def __init__(
        self,
        predict: Callable[[list[In]], Sequence[Out]],
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        expected: Callable[[], int] = lambda: 0,
        on_batch: Callable[[int, float], None] | None = None,
        on_done: Callable[[list[tuple[Any, In, Out]]], None] | None = None,
        name: str = "batcher",
        thread_init: Callable[[], None] | None = None,
    ) -> None:
        self._predict = predict
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait_s = max(0.0, max_wait_ms) / 1000
        self._expected = expected
        self._on_batch = on_batch
        self._on_done = on_done
        self._queue: deque[_Pending[In, Out]] = deque()
        self._queued_rows = 0
        # The batcher sleeps on ``_waiter``; ``submit`` wakes it only when that changes what
        # it does: a first request while idle, or, while a batch gathers, one that fills the
        # batch or is the last one known to be coming. Other requests cost no wake-up.
        self._waiter: asyncio.Future[None] | None = None
        self._gathered = -1  # rows of the batch gathering now; -1 while idle
        self._want = 1  # rows the batch gathering now waits for
        self._peak = 1.0  # recent concurrency: rows in the batcher when a batch ended
        self._task: asyncio.Task[None] | None = None
        self._name = name
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"modelyard-{name}",
                                            initializer=thread_init)
        self._closing = False
        self.batches = 0
        #: failed batches split in halves to find the request that fails
        self.splits = 0
        self.rows = 0

    @property
    def pending(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return len(self._queue)

    def submit(self, item: In, rows: int = 1, tag: Any = None) -> asyncio.Future[Out]:
        """Queue one request's item; the future gets its result.

        Queueing is synchronous, so a caller that picked this batcher and submits without
        awaiting in between can never miss it, even if the batcher starts closing next.
        A ``tag`` (anything but ``None``) hands the result to ``on_done`` too.

        Raises:
            RuntimeError: the batcher is closed (a bug in the caller).
        """
        if self._closing:
            raise RuntimeError("submit to a closed MicroBatcher")
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._run(), name="modelyard-batcher")
        future: asyncio.Future[Out] = loop.create_future()
        self._queue.append(_Pending(item, rows, future, tag))
        self._queued_rows += rows
        waiter = self._waiter
        gathered = self._gathered + self._queued_rows
        if waiter is not None and (
                self._gathered < 0 or gathered >= self.max_batch_size
                or (gathered >= self._want and self._expected() <= 0)):
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return future

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def close(self) -> None:
        """Finish every queued request, then stop the task and the thread."""
        self._closing = True
        if self._task is not None:
            self._wake()
            await self._task
        self._executor.shutdown(wait=True)

    # -- the loop -----------------------------------------------------------------------

    def _take(self, batch: list[_Pending[In, Out]], rows: int) -> int:
        while self._queue and rows + self._queue[0].rows <= self.max_batch_size:
            item = self._queue.popleft()
            batch.append(item)
            rows += item.rows
            self._queued_rows -= item.rows
        return rows

    async def _sleep(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        """Until ``submit`` (or ``close``) wakes the batcher, or ``deadline`` passes."""
        waiter = self._waiter = loop.create_future()
        timer = None if deadline is None else loop.call_at(deadline, self._wake)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._gathered = -1
                await self._sleep(loop, None)
                continue
            first = self._queue.popleft()
            self._queued_rows -= first.rows
            batch = [first]
            rows = self._take(batch, first.rows)
            self._want = min(self.max_batch_size, round(self._peak))
            if rows < self.max_batch_size and self.max_wait_s and self._more_expected(rows):
                deadline = loop.time() + self.max_wait_s
                while rows < self.max_batch_size and self._more_expected(rows) and not (
                        self._queue and rows + self._queue[0].rows > self.max_batch_size):
                    if loop.time() >= deadline or self._closing:
                        # fewer came than the recent concurrency promised: it has fallen
                        self._peak = max(float(rows), self._peak / 2)
                        break
                    self._gathered = rows
                    await self._sleep(loop, deadline)
                    rows = self._take(batch, rows)
            self._gathered = -1
            live = [p for p in batch if not p.future.cancelled()]
            if not live:
                continue
            started = time.perf_counter()
            results = await loop.run_in_executor(self._executor, self._call,
                                                 [p.item for p in live])
            if self._on_batch is not None:
                self._on_batch(rows, time.perf_counter() - started)
            # the rows that were in the batcher at once: this batch's and those queued since
            self._peak = max(float(rows + self._queued_rows), self._peak * 0.9, 1.0)
            self.batches += 1
            self.rows += rows
            done: list[tuple[Any, In, Out]] = []
            for pending, result in zip(live, results, strict=True):
                if pending.future.cancelled():
                    continue
                if isinstance(result, _Failure):
                    pending.future.set_exception(result.error)
                else:
                    pending.future.set_result(result)
                    if pending.tag is not None:
                        done.append((pending.tag, pending.item, result))
            if done and self._on_done is not None:
                try:
                    self._on_done(done)
                except Exception:  # the answers stand; a hook's fault must not stop batching
                    _LOG.exception("the batch hook of %s failed", self._name)

    def _more_expected(self, rows: int) -> bool:
        """Whether more requests are on their way: started and not queued, or fewer rows
        gathered than the recent concurrency."""
        return self._expected() > 0 or rows < self._want

    def _call(self, items: list[In]) -> list[Out | _Failure]:
        try:
            results: list[Out | _Failure] = list(self._predict(items))
            if len(results) != len(items):
                raise RuntimeError(f"predict returned {len(results)} results for "
                                   f"{len(items)} items")
            return results
        except Exception as exc:
            if len(items) == 1:
                return [_Failure(exc)]
        self.splits += 1
        half = len(items) // 2
        return self._call(items[:half]) + self._call(items[half:])


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error
