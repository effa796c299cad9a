"""The benchmark's Kafka clients: an acks=all producer of requests (key = request_id), and
consumers that note when each answer, dead letter or relayed record is seen."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer, ConsumerRecord

from busbench.progress import Counter as ProgressCounter
from supportbus_contracts.envelope import Event
from supportbus_devtools.topicreader import TopicTail, read_topics
from supportbus_runtime.broker import PRODUCER_MAX_REQUEST_BYTES, EventRecord


async def start_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="supportbus-benchmark",
        acks="all",
        enable_idempotence=True,
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        linger_ms=2,
    )
    await producer.start()
    return producer


async def _send(producer: AIOKafkaProducer, topic: str, event: Event) -> asyncio.Future[object]:
    """Hand one event to the producer the way the CLI publishes it (JSON value, request_id key,
    self-describing headers); returns the future of the broker's acknowledgement."""
    record = EventRecord.of(event)
    headers = [(k, v.encode()) for k, v in record.headers.items()]
    if record.correlation_id:
        headers.append(("correlation_id", record.correlation_id.encode()))
    future: asyncio.Future[object] = await producer.send(
        topic, record.value, key=record.key, headers=headers
    )
    return future


async def publish(
    producer: AIOKafkaProducer,
    topic: str,
    events: Sequence[Event],
    sent_at: dict[str, float],
    *,
    rate: float | None = None,
    label: str = "published",
) -> None:
    """As fast as the producer accepts (``rate`` None), or open-loop at ``rate`` per second:
    request i goes at start + i/rate whatever happened to the ones before it. ``sent_at`` gets
    each request's publish time (perf_counter) as it is handed over."""
    progress = ProgressCounter(label, len(events))
    acks: list[asyncio.Future[object]] = []
    start = time.perf_counter()
    for n, event in enumerate(events):
        if rate is not None:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        sent_at[event.request_id] = time.perf_counter()
        acks.append(await _send(producer, topic, event))
        progress.update(n + 1)
    await asyncio.gather(*acks)  # every request acknowledged by all in-sync replicas


@dataclass
class Outcomes:
    """What the benchmark saw on a stack's response and dead-letter topics."""

    answered_at: dict[str, float] = field(default_factory=dict)
    responses: Counter[str] = field(default_factory=Counter)
    dead: dict[str, str] = field(default_factory=dict)
    # request_id -> (composer, fallback tags such as "classifier:injection_suspected")
    details: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    unreadable: int = 0

    def accounted(self, request_id: str) -> bool:
        return request_id in self.answered_at or request_id in self.dead

    def note_response(self, value: bytes, seen: float) -> None:
        try:
            data = json.loads(value)
            request_id = str(data["request_id"])
        except (ValueError, KeyError, TypeError):
            self.unreadable += 1
            return
        self.responses[request_id] += 1
        if request_id in self.answered_at:
            return  # a redelivered duplicate: the first sighting is the latency
        self.answered_at[request_id] = seen
        tags = []
        classified = (data.get("classification") or {}).get("fallback_reason")
        if classified:
            tags.append(f"classifier:{str(classified).split(':')[0]}")
        if data.get("fallback_reason"):
            tags.append(f"responder:{str(data['fallback_reason']).split(':')[0]}")
        self.details[request_id] = (str(data.get("composer")), tuple(tags))


class TopicWatcher:
    """Reads topics from their start without a consumer group, in the background, for the
    whole life of a stack: response.ready answers and dead letters (key = request_id)."""

    def __init__(self, bootstrap: str, responses: str, dead_letters: Sequence[str]) -> None:
        self._responses = responses
        self.outcomes = Outcomes()
        # perf_counter: an answer's latency is taken against its publish time on the same clock.
        self._tail = TopicTail(
            bootstrap, [responses, *dead_letters], self._note, clock=time.perf_counter
        )

    def _note(self, record: ConsumerRecord[bytes, bytes], seen: float) -> None:
        if record.topic == self._responses:
            self.outcomes.note_response(record.value or b"", seen)
        else:
            key = (record.key or b"").decode("utf-8", errors="replace")
            self.outcomes.dead.setdefault(key, record.topic)

    async def start(self) -> None:
        await self._tail.start()

    def check(self) -> None:
        self._tail.check()

    async def stop(self) -> None:
        await self._tail.stop()


@dataclass
class RelayCount:
    distinct: set[bytes] = field(default_factory=set)
    records: int = 0
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None
    # Records written after ``on_first`` ran (the CPU meter's window), by their timestamps.
    mark_ms: int | None = None
    after_mark: int = 0


async def count_relayed(
    bootstrap: str,
    topic: str,
    expected: int,
    *,
    timeout_s: float,
    stall_s: float,
    label: str,
    on_first: Callable[[], None] | None = None,
) -> RelayCount:
    """Reads ``topic`` until ``expected`` distinct keys arrived (or the timeout or a stall),
    noting the first and last record timestamps (set by the relay's producer as it sent);
    ``on_first`` is called when the first record shows up (the relay is past its start)."""
    count = RelayCount()
    progress = ProgressCounter(label, expected)
    last_new = time.monotonic()

    def finished() -> bool:  # every key seen, or nothing new for stall_s
        return len(count.distinct) >= expected or time.monotonic() - last_new > stall_s

    records = read_topics(bootstrap, [topic], deadline_s=timeout_s, done=finished)
    async for record in records:
        if count.mark_ms is None:  # the relay is past its start
            count.mark_ms = int(time.time() * 1000)
            if on_first is not None:
                on_first()
        count.records += 1
        count.distinct.add(record.key or b"")
        ts = record.timestamp
        if ts >= count.mark_ms:
            count.after_mark += 1
        first, last = count.first_ts_ms, count.last_ts_ms
        count.first_ts_ms = ts if first is None else min(ts, first)
        count.last_ts_ms = ts if last is None else max(ts, last)
        last_new = time.monotonic()
        progress.update(len(count.distinct))
    return count
