"""Key-ordered concurrency, backpressure, batched commits and rebalances, on a fake consumer."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from supportbus_runtime.dispatcher import DispatchLimits, KeyOrderedDispatcher

P0, P1 = TopicPartition("in.v1", 0), TopicPartition("in.v1", 1)


@dataclass
class FakeConsumer:
    paused: set[TopicPartition] = field(default_factory=set)
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    fail_commits: bool = False

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail_commits:
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))

    def committed(self, tp: TopicPartition) -> int | None:
        found = [c[tp] for c in self.commits if tp in c]
        return found[-1] if found else None


@dataclass
class Recorder:
    """A process function that records order and concurrency, optionally gated per item."""

    seen: list[str] = field(default_factory=list)
    running: int = 0
    most_running: int = 0
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    jitter_s: float = 0.0

    async def __call__(self, item: str) -> None:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if item in self.gates:
                await self.gates[item].wait()
            elif self.jitter_s:
                await asyncio.sleep(random.random() * self.jitter_s)
            self.seen.append(item)
        finally:
            self.running -= 1


def _dispatcher(
    consumer: FakeConsumer, recorder: Recorder, **limits: float
) -> KeyOrderedDispatcher:
    defaults: dict[str, float] = {"commit_interval_s": 3600, "commit_every": 10_000}
    return KeyOrderedDispatcher(consumer, recorder, DispatchLimits(**{**defaults, **limits}))  # type: ignore[arg-type]


async def _settle(dispatcher: KeyOrderedDispatcher) -> None:
    for _ in range(1000):
        if dispatcher.in_flight == 0:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{dispatcher.in_flight} records never finished")


async def test_records_of_one_key_are_handled_strictly_in_offset_order() -> None:
    recorder = Recorder(jitter_s=0.003)
    dispatcher = _dispatcher(FakeConsumer(), recorder)
    for offset in range(200):
        key = f"req-{offset % 5}".encode()
        dispatcher.submit(P0, offset, key, f"{key.decode()}:{offset}")
    await _settle(dispatcher)
    for n in range(5):
        mine = [int(s.split(":")[1]) for s in recorder.seen if s.startswith(f"req-{n}:")]
        assert mine == sorted(mine)
        assert len(mine) == 40
    assert recorder.most_running > 1  # different keys did run side by side
    assert recorder.most_running <= 5  # but never two of one key


async def test_keyless_records_are_ordered_with_their_partition() -> None:
    recorder = Recorder(jitter_s=0.002)
    dispatcher = _dispatcher(FakeConsumer(), recorder)
    for offset in range(30):
        dispatcher.submit(P0, offset, None, f"p0:{offset}")
        dispatcher.submit(P1, offset, None, f"p1:{offset}")
    await _settle(dispatcher)
    for prefix in ("p0", "p1"):
        mine = [int(s.split(":")[1]) for s in recorder.seen if s.startswith(prefix)]
        assert mine == list(range(30))


async def test_commit_covers_only_the_finished_prefix() -> None:
    consumer = FakeConsumer()
    recorder = Recorder(gates={"slow": asyncio.Event()})
    dispatcher = _dispatcher(consumer, recorder)
    dispatcher.submit(P0, 0, b"a", "fast-0")
    dispatcher.submit(P0, 1, b"b", "slow")
    for offset in range(2, 10):
        dispatcher.submit(P0, offset, f"k{offset}".encode(), f"fast-{offset}")
    for _ in range(100):
        await asyncio.sleep(0)
    await dispatcher.commit()
    assert consumer.committed(P0) == 1  # offset 1 is still running: nothing past it
    recorder.gates["slow"].set()
    await _settle(dispatcher)
    await dispatcher.commit()
    assert consumer.committed(P0) == 10


async def test_commits_are_batched_every_n_completions() -> None:
    consumer = FakeConsumer()
    dispatcher = _dispatcher(consumer, Recorder(), commit_every=10)
    for offset in range(25):
        dispatcher.submit(P0, offset, f"k{offset}".encode(), str(offset))
    await _settle(dispatcher)
    for _ in range(50):
        await asyncio.sleep(0)
    assert 1 <= len(consumer.commits) <= 3  # not one commit per record
    await dispatcher.close()
    assert consumer.committed(P0) == 25


async def test_a_full_consumer_holds_its_loop_without_pausing_and_frees_it_when_a_record_ends() -> (
    None
):
    consumer = FakeConsumer()
    gate = asyncio.Event()
    recorder = Recorder(gates={str(n): gate for n in range(10)})
    dispatcher = _dispatcher(consumer, recorder, max_in_flight=4, max_per_partition=100)
    dispatcher.assigned({P0, P1})
    for offset in range(4):
        await asyncio.wait_for(dispatcher.room(), 1)  # room for one more: the loop fetches
        dispatcher.submit(P0, offset, str(offset).encode(), str(offset))
    assert dispatcher.free_slots == 0
    waiting = asyncio.ensure_future(dispatcher.room())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # full: the loop fetches nothing more
    # ... and pauses nothing, so aiokafka keeps what it prefetched.
    assert consumer.paused == set()
    gate.set()
    await asyncio.wait_for(waiting, 1)
    await _settle(dispatcher)
    assert dispatcher.free_slots == 4


async def test_a_consumer_full_for_long_pauses_all_so_its_loop_polls_and_stays_in_group() -> (
    None
):
    consumer = FakeConsumer()
    gate = asyncio.Event()
    dispatcher = _dispatcher(
        consumer,
        Recorder(gates={"0": gate}),
        max_in_flight=1,
        max_per_partition=100,
        full_patience_s=0.01,
    )
    dispatcher.assigned({P0, P1})
    dispatcher.submit(P0, 0, b"a", "0")
    await asyncio.wait_for(dispatcher.room(), 1)  # returns after its patience, full or not
    assert dispatcher.free_slots == 0
    assert consumer.paused == {P0, P1}  # so the polls it returns to take no records
    gate.set()
    await _settle(dispatcher)
    assert consumer.paused == set()


async def test_a_full_partition_is_paused_alone() -> None:
    consumer = FakeConsumer()
    gate = asyncio.Event()
    dispatcher = _dispatcher(
        consumer, Recorder(gates={"0": gate, "1": gate}), max_in_flight=64, max_per_partition=2
    )
    dispatcher.assigned({P0, P1})
    dispatcher.submit(P0, 0, b"a", "0")
    dispatcher.submit(P0, 1, b"b", "1")
    assert consumer.paused == {P0}
    gate.set()
    await _settle(dispatcher)
    assert consumer.paused == set()


async def test_revocation_waits_for_in_flight_records_then_commits_their_watermark() -> None:
    consumer = FakeConsumer()
    gate = asyncio.Event()
    dispatcher = _dispatcher(consumer, Recorder(gates={"1": gate}), revoke_timeout_s=30)
    dispatcher.assigned({P0})
    for offset in range(3):
        dispatcher.submit(P0, offset, f"k{offset}".encode(), str(offset))
    revoking = asyncio.create_task(dispatcher.revoked({P0}))
    await asyncio.sleep(0.01)
    assert not revoking.done()  # offset 1 is still in flight
    assert not dispatcher.submit(P0, 3, b"k3", "3")  # a revoked partition takes nothing new
    gate.set()
    await revoking
    assert consumer.committed(P0) == 3


async def test_records_running_past_the_revoke_timeout_are_cancelled_and_not_committed() -> None:
    consumer = FakeConsumer()
    recorder = Recorder(gates={"1": asyncio.Event()})  # never opens
    dispatcher = _dispatcher(consumer, recorder, revoke_timeout_s=0.05)
    dispatcher.assigned({P0})
    for offset in range(3):
        dispatcher.submit(P0, offset, f"k{offset}".encode(), str(offset))
    await dispatcher.revoked({P0})
    assert consumer.committed(P0) == 1  # 0 finished; 1 was cancelled, so 1 is redelivered
    assert dispatcher.in_flight == 0
    assert "1" not in recorder.seen
    # Reassigned: a new epoch starts again from the committed offset, and commits from there.
    dispatcher.assigned({P0})
    recorder.gates.clear()
    for offset in (1, 2):
        assert dispatcher.submit(P0, offset, f"k{offset}".encode(), str(offset))
    await _settle(dispatcher)
    await dispatcher.commit()
    assert consumer.committed(P0) == 3


async def test_queued_records_behind_their_key_are_not_started_after_revocation() -> None:
    consumer = FakeConsumer()
    gate = asyncio.Event()
    recorder = Recorder(gates={"first": gate})
    dispatcher = _dispatcher(consumer, recorder, revoke_timeout_s=30)
    dispatcher.submit(P0, 0, b"same", "first")
    dispatcher.submit(P0, 1, b"same", "second")
    revoking = asyncio.create_task(dispatcher.revoked({P0}))
    await asyncio.sleep(0.01)
    gate.set()
    await revoking
    assert recorder.seen == ["first"]  # "second" goes to the partition's next owner
    assert consumer.committed(P0) == 1


async def test_failed_commit_is_survived_and_retried_later() -> None:
    consumer = FakeConsumer(fail_commits=True)
    dispatcher = _dispatcher(consumer, Recorder())
    dispatcher.submit(P0, 0, b"a", "0")
    await _settle(dispatcher)
    await dispatcher.commit()
    assert consumer.commits == []
    consumer.fail_commits = False
    await dispatcher.commit()
    assert consumer.committed(P0) == 1


async def test_shutdown_takes_nothing_new_and_commits_what_finished() -> None:
    consumer = FakeConsumer()
    dispatcher = _dispatcher(consumer, Recorder(jitter_s=0.002))
    for offset in range(20):
        dispatcher.submit(P0, offset, f"k{offset}".encode(), str(offset))
    await dispatcher.close()
    assert consumer.committed(P0) == 20
    assert not dispatcher.submit(P0, 20, b"late", "late")


async def test_load_reports_records_in_flight_paused_and_assigned_partitions() -> None:
    reports: list[tuple[int, int, int]] = []
    gate = asyncio.Event()
    dispatcher = KeyOrderedDispatcher(
        FakeConsumer(),
        Recorder(gates={"0": gate}),
        DispatchLimits(max_in_flight=1, commit_interval_s=3600),
        on_load=lambda *load: reports.append(load),
    )
    dispatcher.assigned({P0, P1})
    dispatcher.submit(P0, 0, b"a", "0")
    assert reports[-1] == (1, 0, 2)  # full, but nothing paused: the loop waits for room
    gate.set()
    await _settle(dispatcher)
    assert reports[-1] == (0, 0, 2)
    await dispatcher.revoked({P0})
    assert reports[-1] == (0, 0, 1)
