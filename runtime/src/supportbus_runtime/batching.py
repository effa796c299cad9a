"""Micro-batching: many coroutines each ask for one item's result; one call computes a batch.

Model inference is far cheaper per item in batches (one ONNX call on 32 texts costs a fraction of
32 calls) and must not run on the event loop, which serves every record in flight. A
``MicroBatcher`` collects concurrent ``submit`` calls until ``batch_max`` items are waiting or
``batch_wait_ms`` have passed since the oldest arrived, then runs the batch function on its own
worker thread, one batch at a time: the model already spreads one call over its intra-op
threads, so two batches at once would only compete for the same cores. Items that arrive while a
batch computes form the next batch, so under load batches fill up without waiting at all.

When a batch fails, its items are retried one by one (``isolate_failures``), so an item that
fails alone raises its own exception in its own caller only, and a failure that is no item's
fault (the model itself) raises in every caller of the batch. A caller that is cancelled simply
drops out (its result, if computed, is discarded). ``aclose`` finishes what is queued and
stops the worker. The batch function runs without any request's context: per-request spans
belong in the submitting coroutine, which ``submit_batched`` tells when its batch ran.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from supportbus_runtime.errors import TransientError

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(TransientError):
    """Raised by ``submit`` after ``aclose``, and in callers whose batch was abandoned: the
    service is stopping, the record is not at fault (it is retried, or redelivered)."""


@dataclass(frozen=True)
class Batched(Generic[R]):
    """One item's result and the batch that computed it (times are ``time.time_ns()``, as
    OpenTelemetry spans take them)."""

    value: R
    size: int
    started_ns: int
    finished_ns: int


@dataclass
class _Waiter(Generic[T, R]):
    item: T
    future: asyncio.Future[Batched[R]]
    enqueued: float  # loop time


class MicroBatcher(Generic[T, R]):
    """``await submit(item)`` returns ``batch_fn(items)[i]`` for that item's position ``i``."""

    def __init__(
        self,
        batch_fn: Callable[[Sequence[T]], Sequence[R]],
        *,
        batch_max: int = 32,
        batch_wait_ms: float = 2.0,
        name: str = "micro-batch",
        isolate_failures: bool = True,
    ) -> None:
        if batch_max < 1:
            raise ValueError(f"batch_max must be at least 1, not {batch_max}")
        if batch_wait_ms < 0:
            raise ValueError(f"batch_wait_ms must not be negative, not {batch_wait_ms}")
        self._fn = batch_fn
        self._max = batch_max
        self._wait_s = batch_wait_ms / 1000
        self._name = name
        self._isolate = isolate_failures
        self._pending: deque[_Waiter[T, R]] = deque()
        # The collector runs only while items wait, so the batcher holds no task between bursts
        # and is not tied to one event loop (each burst binds to the loop it runs on).
        self._collector: asyncio.Task[None] | None = None
        self._full = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None  # started with the first batch
        self._closed = False
        self.batches = 0
        self.items = 0

    @property
    def batch_max(self) -> int:
        return self._max

    async def submit(self, item: T) -> R:
        return (await self.submit_batched(item)).value

    async def submit_batched(self, item: T) -> Batched[R]:
        if self._closed:
            raise BatcherClosed(f"{self._name} is closed")
        loop = asyncio.get_running_loop()
        waiter: _Waiter[T, R] = _Waiter(item, loop.create_future(), loop.time())
        self._pending.append(waiter)
        if self._collector is None or self._collector.done():
            self._full = asyncio.Event()
            self._collector = loop.create_task(self._collect(), name=f"{self._name}-collector")
        elif len(self._pending) >= self._max:
            self._full.set()
        return await waiter.future

    async def aclose(self) -> None:
        """Refuse new items, finish the queued ones, stop the worker thread."""
        self._closed = True
        if self._collector is not None and not self._collector.done():
            await asyncio.shield(self._collector)
        if self._executor is not None:
            # Off the loop: a batch abandoned by a cancelled collector may still be running.
            await asyncio.to_thread(self._executor.shutdown, wait=True)
            self._executor = None

    async def _collect(self) -> None:
        batch: list[_Waiter[T, R]] = []
        try:
            while self._drop_cancelled():
                await self._fill_window()
                batch = self._take()
                if batch:
                    await self._run(batch)
                batch = []
        except BaseException as error:
            # Cancelled (the loop is going away) or broken: nobody must wait forever.
            stopped = BatcherClosed(f"{self._name} stopped before computing the batch")
            stopped.__cause__ = error
            for waiter in [*batch, *self._pending]:
                _fail(waiter, stopped)
            self._pending.clear()
            raise

    def _drop_cancelled(self) -> bool:
        while self._pending and self._pending[0].future.done():
            self._pending.popleft()
        return bool(self._pending)

    async def _fill_window(self) -> None:
        """Wait until the batch is full or the oldest item has waited ``batch_wait_ms``."""
        if len(self._pending) >= self._max:
            return
        remaining = self._pending[0].enqueued + self._wait_s - asyncio.get_running_loop().time()
        if remaining <= 0:
            return
        self._full.clear()
        try:
            async with asyncio.timeout(remaining):
                await self._full.wait()
        except TimeoutError:
            pass

    def _take(self) -> list[_Waiter[T, R]]:
        batch: list[_Waiter[T, R]] = []
        while self._pending and len(batch) < self._max:
            waiter = self._pending.popleft()
            if not waiter.future.done():  # cancelled callers drop out here
                batch.append(waiter)
        return batch

    async def _run(self, batch: list[_Waiter[T, R]]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        items = [w.item for w in batch]
        self.batches += 1
        self.items += len(items)
        loop = asyncio.get_running_loop()
        started, finished, outcomes = await loop.run_in_executor(self._executor, self._call, items)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            if waiter.future.done():
                continue
            if isinstance(outcome, _Failed):
                waiter.future.set_exception(outcome.error)
            else:
                waiter.future.set_result(Batched(outcome, len(items), started, finished))

    def _call(self, items: Sequence[T]) -> tuple[int, int, list[R | _Failed]]:
        """On the worker thread, in an empty context: whatever the batch function traces must
        not attach to some request that happened to be current when the thread started."""
        started = time.time_ns()
        try:
            outcomes: list[R | _Failed] = list(self._checked(items))
        except Exception as error:
            if len(items) == 1 or not self._isolate:
                outcomes = [_Failed(error)] * len(items)
            else:
                # One bad item must not fail its batch-mates (each would be dead-lettered with
                # its error): alone, each item gets its own result or its own error. A failure
                # that is no item's fault (the model itself) thus still reaches every caller.
                outcomes = [self._alone(item) for item in items]
        return started, time.time_ns(), outcomes

    def _checked(self, items: Sequence[T]) -> Sequence[R]:
        results = contextvars.Context().run(self._fn, items)
        if len(results) != len(items):
            raise RuntimeError(
                f"{self._name}: the batch function returned {len(results)} results "
                f"for {len(items)} items"
            )
        return results

    def _alone(self, item: T) -> R | _Failed:
        try:
            return self._checked([item])[0]
        except Exception as error:
            return _Failed(error)


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _fail(waiter: _Waiter[T, R], error: BaseException) -> None:
    if not waiter.future.done():
        waiter.future.set_exception(error)
