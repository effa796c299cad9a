"""The micro-batcher: concurrent submissions share batch calls on a worker thread, and each
caller gets its own result (or the batch's error) whatever the others do."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from supportbus_runtime.batching import BatcherClosed, MicroBatcher

WAIT_S = 10  # a bound on waiting for the worker thread, never a duration under test


class Recorder:
    """A batch function that doubles numbers and remembers every batch and its thread."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[int] = set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.get_ident())
        return [2 * item for item in items]


class Gate:
    """A batch function that blocks on a threading.Event until the test opens it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        self.batches: list[list[int]] = []

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.entered.set()
        if not self.open.wait(WAIT_S):
            raise AssertionError("the gate was never opened: the event loop was blocked")
        return [2 * item for item in items]

    async def until_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, WAIT_S)
        self.entered.clear()


async def test_concurrent_submissions_share_batch_calls_and_each_gets_its_own_result() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, batch_max=4, batch_wait_ms=1)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert results == [2 * n for n in range(10)]
    assert [len(b) for b in recorder.batches] == [4, 4, 2]
    assert sorted(n for b in recorder.batches for n in b) == list(range(10))
    assert threading.get_ident() not in recorder.threads  # computed off the loop's thread
    await batcher.aclose()


async def test_each_caller_learns_the_size_of_the_batch_that_served_it() -> None:
    batcher = MicroBatcher(Recorder(), batch_max=8, batch_wait_ms=1)
    served = await asyncio.gather(*(batcher.submit_batched(n) for n in range(3)))
    assert [(s.value, s.size) for s in served] == [(0, 3), (2, 3), (4, 3)]
    assert all(s.started_ns <= s.finished_ns for s in served)
    await batcher.aclose()


async def test_a_failure_of_the_model_itself_reaches_every_caller_then_batches_work() -> None:
    broken = threading.Event()
    broken.set()

    def model(items: Sequence[int]) -> list[int]:
        if broken.is_set():
            raise ValueError("model failed")
        return [2 * item for item in items]

    batcher = MicroBatcher(model, batch_max=8, batch_wait_ms=1)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(5)), return_exceptions=True)
    assert [type(o) for o in outcomes] == [ValueError] * 5
    broken.clear()
    assert await batcher.submit(21) == 42
    await batcher.aclose()


async def test_an_item_that_fails_alone_fails_only_its_own_caller() -> None:
    def poisoned(items: Sequence[int]) -> list[int]:
        if min(items) < 0:
            raise ValueError(f"cannot take {min(items)}")
        return [2 * item for item in items]

    batcher = MicroBatcher(poisoned, batch_max=8, batch_wait_ms=1)
    outcomes = await asyncio.gather(
        *(batcher.submit(n) for n in (1, -1, 3)), return_exceptions=True
    )
    assert outcomes[0] == 2
    assert outcomes[2] == 6
    assert isinstance(outcomes[1], ValueError)
    assert str(outcomes[1]) == "cannot take -1"
    await batcher.aclose()


async def test_without_isolation_a_batch_failure_reaches_every_caller_of_that_batch() -> None:
    calls: list[list[int]] = []

    def poisoned(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        raise ValueError(f"failed on {len(items)} items")

    batcher = MicroBatcher(poisoned, batch_max=8, batch_wait_ms=1, isolate_failures=False)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(4)), return_exceptions=True)
    assert {str(o) for o in outcomes} == {"failed on 4 items"}
    assert calls == [[0, 1, 2, 3]]
    await batcher.aclose()


async def test_a_batch_function_returning_the_wrong_number_of_results_fails_its_callers() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [], batch_max=8, batch_wait_ms=1)
    outcomes = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) and "0 results for 1" in str(o) for o in outcomes)
    await batcher.aclose()


async def test_the_loop_keeps_running_other_coroutines_while_a_batch_computes() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, batch_max=8, batch_wait_ms=0)
    waiting = asyncio.create_task(batcher.submit(5))
    await gate.until_entered()

    async def open_the_gate() -> str:
        gate.open.set()  # only possible if the loop runs while the batch function blocks
        return "ran"

    assert await open_the_gate() == "ran"
    assert await waiting == 10
    await batcher.aclose()


async def test_items_arriving_during_a_batch_form_the_next_batch() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, batch_max=8, batch_wait_ms=0)
    first = asyncio.create_task(batcher.submit(1))
    await gate.until_entered()
    later = [asyncio.create_task(batcher.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)  # let them enqueue
    gate.open.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8]
    assert gate.batches == [[1], [2, 3, 4]]
    await batcher.aclose()


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, batch_max=1, batch_wait_ms=0)
    computing = asyncio.create_task(batcher.submit(1))
    await gate.until_entered()
    queued = {n: asyncio.create_task(batcher.submit(n)) for n in (2, 3, 4)}
    await asyncio.sleep(0)
    queued[3].cancel()  # still queued: it must never reach the batch function
    computing_too = asyncio.create_task(batcher.submit(5))
    await asyncio.sleep(0)
    gate.open.set()
    assert await computing == 2
    assert await queued[2] == 4
    assert await queued[4] == 8
    assert await computing_too == 10
    with pytest.raises(asyncio.CancelledError):
        await queued[3]
    assert gate.batches == [[1], [2], [4], [5]]
    await batcher.aclose()


async def test_a_caller_cancelled_mid_batch_drops_out_and_its_batch_mates_get_results() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, batch_max=8, batch_wait_ms=0)
    tasks = [asyncio.create_task(batcher.submit(n)) for n in (1, 2, 3)]
    await gate.until_entered()
    tasks[1].cancel()
    gate.open.set()
    assert await tasks[0] == 2
    assert await tasks[2] == 6
    assert tasks[1].cancelled()
    await batcher.aclose()


async def test_close_finishes_queued_items_then_refuses_new_ones() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, batch_max=2, batch_wait_ms=0, name="closing-batcher")
    tasks = [asyncio.create_task(batcher.submit(n)) for n in range(5)]
    await gate.until_entered()
    closing = asyncio.create_task(batcher.aclose())
    await asyncio.sleep(0)
    with pytest.raises(BatcherClosed):
        await batcher.submit(99)
    gate.open.set()
    await closing
    assert [t.result() for t in tasks] == [0, 2, 4, 6, 8]
    assert not [t for t in threading.enumerate() if t.name.startswith("closing-batcher")]


async def test_a_cancelled_collector_fails_its_waiters_instead_of_leaving_them_hanging() -> None:
    gate = Gate()
    batcher = MicroBatcher(gate, batch_max=1, batch_wait_ms=0)
    tasks = [asyncio.create_task(batcher.submit(n)) for n in (1, 2)]
    await gate.until_entered()
    collector = batcher._collector
    assert collector is not None
    collector.cancel()  # what closing the event loop does to leftover tasks
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, BatcherClosed) for o in outcomes)
    gate.open.set()
    await batcher.aclose()


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_max"):
        MicroBatcher(Recorder(), batch_max=0)
    with pytest.raises(ValueError, match="batch_wait_ms"):
        MicroBatcher(Recorder(), batch_wait_ms=-1)
