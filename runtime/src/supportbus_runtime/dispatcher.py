"""Key-ordered concurrent processing of one consumer's records, with commits that never run ahead.

The consumer loop (FastStream's) hands each fetched record to :meth:`KeyOrderedDispatcher.submit`,
which returns at once, and then waits for :meth:`~KeyOrderedDispatcher.room` before it fetches
again. Each record becomes a task; a record waits only for the previous record of
its *lane* — the same partition and key (request_id), or the same partition for a keyless record —
so one request's events are handled strictly in offset order while different requests run side by
side. Like Confluent's parallel-consumer:

* **Commits** cover only the completed prefix of each partition (:class:`PartitionOffsets`),
  batched: every ``commit_interval_s``, after ``commit_every`` completions, on revocation and at
  shutdown. Nothing is committed before the record's output (or dead letter) is acknowledged.
* **Backpressure**: when the consumer holds ``max_in_flight`` records its loop fetches nothing
  until an eighth of the slots are free (:meth:`KeyOrderedDispatcher.room`), and a fetch takes at
  most the free slots, so memory stays bounded under any backlog. Only a partition holding
  ``max_per_partition`` records is paused (and resumed when it drains): aiokafka throws away
  what it had prefetched for a paused partition and fetches it again on resume, which made
  pausing every partition at each full moment cost more CPU than the records themselves.
* **Rebalance**: on revocation the revoked partitions take no new records, their in-flight records
  get ``revoke_timeout_s`` to finish, their watermark is committed, and whatever is still running
  is cancelled; the partition's tracker is dropped, so late completions commit nothing. A partition
  assigned again starts a new epoch from the committed offset.

What a crash can redeliver, per consumer: the records in flight (≤ ``max_in_flight``) plus those
finished since the last commit (≤ ``commit_every``, and at most ``commit_interval_s`` worth).
Handlers are idempotent (deterministic event ids, the helpdesk's idempotency key), so redelivery
repeats output events but never creates a second ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from supportbus_runtime.offsets import PartitionOffsets

log = logging.getLogger(__name__)

Process = Callable[[Any], Awaitable[None]]


class PartitionControl(Protocol):
    """The part of aiokafka's consumer the dispatcher drives (a fake in unit tests)."""

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


@dataclass(frozen=True)
class DispatchLimits:
    max_in_flight: int = 64
    max_per_partition: int = 64
    fetch_wait_ms: int = 10
    # Well below aiokafka's max_poll_interval_ms (300 s): see KeyOrderedDispatcher.room.
    full_patience_s: float = 5.0
    commit_interval_s: float = 1.0
    commit_every: int = 500
    revoke_timeout_s: float = 10.0
    shutdown_timeout_s: float = 10.0


@dataclass(eq=False)
class _Partition:
    tp: TopicPartition
    offsets: PartitionOffsets
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    accepting: bool = True


class KeyOrderedDispatcher:
    def __init__(
        self,
        consumer: PartitionControl,
        process: Process,
        limits: DispatchLimits,
        *,
        name: str = "consumer",
        on_commit: Callable[[int], None] | None = None,
        on_load: Callable[[int, int, int], None] | None = None,
    ) -> None:
        self._consumer = consumer
        self._process = process
        self._limits = limits
        self._name = name
        self._on_commit = on_commit
        # (records in flight, partitions paused, partitions assigned), for metrics
        self._on_load = on_load
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._lanes: dict[Hashable, asyncio.Task[None]] = {}
        self._paused: set[TopicPartition] = set()
        self._in_flight = 0
        self._since_commit = 0
        self._epoch = 0
        self._closing = False
        self._commit_now = asyncio.Event()
        self._commit_task: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()
        self._room = asyncio.Event()
        self._room.set()
        # Once full, the loop waits for an eighth of the slots to free rather than one: a fetch
        # of one record at a time costs FastStream's whole per-batch pipeline per record.
        self._refill_slots = max(limits.max_in_flight // 8, 1)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def free_slots(self) -> int:
        return max(self._limits.max_in_flight - self._in_flight, 0)

    async def room(self) -> None:
        """Returns once fewer than ``max_in_flight`` records are in flight (or at shutdown):
        the consumer loop awaits it before each fetch.

        A consumer that does not fetch for ``max_poll_interval_ms`` leaves its group, so after
        ``full_patience_s`` of being full (a slow dependency, retries) this pauses every
        partition and returns: the loop keeps polling, and gets no records until room comes."""
        if self._room.is_set():
            return
        try:
            await asyncio.wait_for(self._room.wait(), self._limits.full_patience_s)
        except TimeoutError:
            self._pause([tp for tp in self._partitions if tp not in self._paused])
            self._report_load()

    @property
    def paused(self) -> frozenset[TopicPartition]:
        return frozenset(self._paused)

    def offsets(self, tp: TopicPartition) -> PartitionOffsets | None:
        partition = self._partitions.get(tp)
        return partition.offsets if partition else None

    # -- records -----------------------------------------------------------------------------

    def submit(self, tp: TopicPartition, offset: int, key: bytes | None, item: Any) -> bool:
        """Start processing a fetched record; False when it is not ours to process (closing, or
        its partition is being revoked): it is then left uncommitted, for whoever owns it next."""
        if self._closing:
            return False
        partition = self._partitions.get(tp)
        if partition is None:
            partition = self._assign(tp)
        if not partition.accepting:
            return False
        try:
            partition.offsets.started(offset)
        except ValueError:
            # A record fetched for an assignment that has since ended; its new epoch refetches it.
            log.debug("%s: ignoring %s@%d from an older assignment", self._name, tp, offset)
            return False
        lane = (tp, key) if key is not None else (tp,)
        previous = self._lanes.get(lane)
        context = contextvars.copy_context()  # each record keeps its own trace and request id
        task = asyncio.get_running_loop().create_task(
            self._run(partition, offset, lane, previous, item), context=context
        )
        self._lanes[lane] = task
        partition.tasks.add(task)
        self._in_flight += 1
        self._ensure_committer()
        self._apply_backpressure()
        return True

    async def _run(
        self,
        partition: _Partition,
        offset: int,
        lane: Hashable,
        previous: asyncio.Task[None] | None,
        item: Any,
    ) -> None:
        try:
            dispatched = previous is None
            if previous is not None:
                await asyncio.wait([previous])  # same lane: strictly after it, whatever its fate
                # Queued behind its key when the partition was revoked: its next owner has it.
                dispatched = partition.accepting
            if dispatched and self._partitions.get(partition.tp) is partition:
                await self._process(item)
                partition.offsets.finished(offset)
                self._since_commit += 1
                if self._since_commit >= self._limits.commit_every:
                    self._commit_now.set()
        finally:
            current = asyncio.current_task()
            if self._lanes.get(lane) is current:
                del self._lanes[lane]
            if current is not None:
                partition.tasks.discard(current)
            self._in_flight -= 1
            self._release_backpressure()

    # -- backpressure ------------------------------------------------------------------------

    def _apply_backpressure(self) -> None:
        if self._in_flight >= self._limits.max_in_flight:
            self._room.clear()
        to_pause = [
            tp
            for tp, p in self._partitions.items()
            if tp not in self._paused and len(p.tasks) >= self._limits.max_per_partition
        ]
        self._pause(to_pause)
        self._report_load()

    def _release_backpressure(self) -> None:
        if self.free_slots < self._refill_slots:
            self._report_load()
            return
        self._room.set()
        if self._closing or not self._paused:
            self._report_load()
            return
        to_resume = [
            tp
            for tp in self._paused
            if (p := self._partitions.get(tp)) is not None
            and p.accepting
            and len(p.tasks) < self._limits.max_per_partition
        ]
        if to_resume:
            with contextlib.suppress(IllegalStateError):  # a rebalance is unassigning them
                self._consumer.resume(*to_resume)
            self._paused.difference_update(to_resume)
        self._report_load()

    def _pause(self, tps: list[TopicPartition]) -> None:
        if not tps:
            return
        try:
            self._consumer.pause(*tps)
        except IllegalStateError:  # a rebalance is unassigning them: they stop anyway
            return
        self._paused.update(tps)

    def _report_load(self) -> None:
        if self._on_load is not None:
            self._on_load(self._in_flight, len(self._paused), len(self._partitions))

    # -- commits -----------------------------------------------------------------------------

    def _ensure_committer(self) -> None:
        if self._commit_task is None or self._commit_task.done():
            self._commit_task = asyncio.get_running_loop().create_task(self._commit_loop())

    async def _commit_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._commit_now.wait(), self._limits.commit_interval_s)
            self._commit_now.clear()
            await self.commit()

    async def commit(self, tps: list[TopicPartition] | None = None) -> None:
        """Commit every partition's completed prefix that moved since its last commit."""
        async with self._commit_lock:
            wanted = self._partitions if tps is None else tps
            chosen = [self._partitions[tp] for tp in wanted if tp in self._partitions]
            offsets = {p.tp: m for p in chosen if (m := p.offsets.to_commit()) is not None}
            if not offsets:
                return
            self._since_commit = 0
            try:
                await self._consumer.commit(offsets)
            except KafkaError as error:
                # Typically a rebalance took the partitions while we worked: their new owner
                # gets these records again, and the handlers are idempotent.
                log.warning(
                    "%s: commit of %d partition(s) failed (%s); their records since the last "
                    "commit will be redelivered",
                    self._name,
                    len(offsets),
                    type(error).__name__,
                )
                return
            for partition in chosen:
                if partition.tp in offsets:
                    partition.offsets.mark_committed(offsets[partition.tp])
            if self._on_commit is not None:
                self._on_commit(len(offsets))

    # -- assignment --------------------------------------------------------------------------

    def _assign(self, tp: TopicPartition) -> _Partition:
        self._epoch += 1
        partition = _Partition(tp, PartitionOffsets(self._epoch))
        self._partitions[tp] = partition
        return partition

    def assigned(self, tps: set[TopicPartition]) -> None:
        """A new assignment: each partition starts a new epoch from its committed offset."""
        for tp in tps:
            stale = self._partitions.get(tp)
            if stale is not None:
                self._abandon(stale)
            self._assign(tp)
            self._paused.discard(tp)  # aiokafka forgets pauses on reassignment
        self._apply_backpressure()

    async def revoked(self, tps: set[TopicPartition]) -> None:
        """Finish (bounded), commit and drop the revoked partitions."""
        leaving = [p for tp in tps if (p := self._partitions.get(tp)) is not None]
        await self._wind_down(leaving, self._limits.revoke_timeout_s, "revoked")
        for partition in leaving:
            self._paused.discard(partition.tp)
        self._report_load()

    async def close(self) -> None:
        """At shutdown: take nothing new, let in-flight records finish (bounded), commit."""
        self._closing = True
        self._room.set()  # the consumer loop must not wait for room that will not come
        self._pause(list(self._partitions))
        leaving = list(self._partitions.values())
        await self._wind_down(leaving, self._limits.shutdown_timeout_s, "shutdown")
        if self._commit_task is not None:
            self._commit_task.cancel()
            await asyncio.gather(self._commit_task, return_exceptions=True)

    async def _wind_down(self, leaving: list[_Partition], timeout_s: float, why: str) -> None:
        for partition in leaving:
            partition.accepting = False
        running = {task for p in leaving for task in p.tasks}
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout_s)
            if pending:
                log.warning(
                    "%s: %d record(s) still in flight %.0f s after %s; cancelled, they will be "
                    "redelivered",
                    self._name,
                    len(pending),
                    timeout_s,
                    why,
                )
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
        await self.commit([p.tp for p in leaving])
        for partition in leaving:
            self._abandon(partition)

    def _abandon(self, partition: _Partition) -> None:
        partition.accepting = False
        for task in partition.tasks:
            task.cancel()
        if self._partitions.get(partition.tp) is partition:
            del self._partitions[partition.tp]
