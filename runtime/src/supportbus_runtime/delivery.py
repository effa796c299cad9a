"""At-least-once delivery, written once for every service.

For each record: decode and validate -> handle (retrying transient failures with backoff) ->
publish the output events and wait for the broker's acknowledgement -> mark the record finished.
A record that cannot be decoded, or whose handling fails permanently or keeps failing past the
retry budget, goes to the dead-letter topic instead, and is finished only once the dead letter is
acknowledged. Many records are in flight at once, one key at a time in offset order, and offsets
are committed only up to the first unfinished record (:mod:`supportbus_runtime.dispatcher`), so a
crash at any point means redelivery, never loss; handlers are idempotent so redelivery is harmless.

A publish that fails (the broker is down, a leader moved) is retried in place until it is
acknowledged (:mod:`supportbus_runtime.publishing`): the record stays in flight, its partition's
commit waits for it, and once every slot is taken fetching stops.

Records are fetched a batch at a time (FastStream batch subscriber over aiokafka's ``getmany``,
at most as many as there are free in-flight slots), so FastStream's per-message pipeline runs
once per batch; each record then gets its own task, trace span and outcome.

Why not FastStream's ack policies: on Kafka, REJECT_ON_ERROR commits like ACK, and ``ack()``
calls aiokafka's ``commit()`` without offsets, which commits every fetched position. We subscribe
with ``AckPolicy.MANUAL``, take every record's raw bytes (FastStream's own JSON decoding would fail
before our handler on a malformed record, which would then be skipped) and commit explicit offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Gauge
from tenacity import (
    AsyncRetrying,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity import retry_if_exception_type as retry_on

from supportbus_contracts.envelope import Event
from supportbus_contracts.topics import dead_letter_topic
from supportbus_runtime.broker import PRODUCER_MAX_REQUEST_BYTES, EventRecord
from supportbus_runtime.deadletters import TRUNCATED_HEADER, dead_letter_headers, describe_error
from supportbus_runtime.declaration import Handler, Publication
from supportbus_runtime.decoding import decode_event
from supportbus_runtime.dispatcher import DispatchLimits, KeyOrderedDispatcher
from supportbus_runtime.errors import RetryBudgetExhausted, TransientError
from supportbus_runtime.logs import current_request_id
from supportbus_runtime.metrics import DeliveryMetrics
from supportbus_runtime.publishing import UntilAcknowledged
from supportbus_runtime.rebalance import RebalanceListener
from supportbus_runtime.record_tracing import consuming
from supportbus_runtime.records import headers_as_text, message_itself, records_of

log = logging.getLogger(__name__)

_MAX_DEAD_LETTER_BYTES = PRODUCER_MAX_REQUEST_BYTES - 64 * 1024

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class DeliveryPolicy:
    # A TransientError is retried until max_attempts or retry_budget_s since the first attempt.
    max_attempts: int = 100
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    retry_budget_s: float = 300.0
    max_message_bytes: int = 1_048_576
    # Backoff between attempts to publish an output or dead letter while the broker is away.
    publish_backoff_s: float = 0.5
    publish_max_backoff_s: float = 5.0
    limits: DispatchLimits = field(default_factory=DispatchLimits)


class EventConsumer(Generic[E]):
    """Consumes one topic for one service with the delivery guarantees described above."""

    def __init__(
        self,
        *,
        service: str,
        topic: str,
        event_type: type[E],
        handler: Handler[E],
        broker: KafkaBroker,
        policy: DeliveryPolicy,
        topic_prefix: str = "",
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.service = service
        self._topic_prefix = topic_prefix
        self.topic = topic
        self.event_type = event_type
        self._handler = handler
        self._broker = broker
        self._policy = policy
        self.metrics = metrics or DeliveryMetrics()
        self._labels = {"service": service, "topic": topic}
        # Bound once: a labels() lookup per record adds up at thousands of records a second.
        self._handled = self.metrics.handled.labels(**self._labels)
        self._retries = self.metrics.retries.labels(**self._labels)
        self._handler_seconds = self.metrics.handler_seconds.labels(**self._labels)
        self._lag: dict[int, Gauge] = {}
        self._subscriber: Any = None
        self._dispatcher: KeyOrderedDispatcher | None = None
        self._group_id = ""
        self._publisher = UntilAcknowledged(
            broker,
            service=service,
            retries=self.metrics.publish_retries.labels(**self._labels),
            backoff_s=policy.publish_backoff_s,
            max_backoff_s=policy.publish_max_backoff_s,
            published=self.metrics.published,
        )

    def subscribe(self, *, group_id: str, group_instance_id: str | None = None) -> None:
        self._group_id = group_id
        limits = self._policy.limits
        self._subscriber = self._broker.subscriber(
            self.topic,
            batch=True,
            # Lowered to the free in-flight slots before each fetch (on_message), so a fetch
            # never takes more than the consumer may hold.
            max_records=limits.max_in_flight,
            batch_timeout_ms=limits.fetch_wait_ms,
            group_id=group_id,
            group_instance_id=group_instance_id or None,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            # Fetch records up to twice the size we accept, so oversized ones reach us and are
            # dead-lettered with a reason instead of stalling the partition.
            max_partition_fetch_bytes=PRODUCER_MAX_REQUEST_BYTES,
            decoder=message_itself,
            listener=RebalanceListener(self.dispatcher),
        )
        self._subscriber(self.on_message)

    # -- the consumer loop's side: hand over and return at once ------------------------------

    def dispatcher(self) -> KeyOrderedDispatcher | None:
        """The dispatcher of the running consumer (None before it starts, and on the in-memory
        test broker, where records are handled inline)."""
        consumer = getattr(self._subscriber, "consumer", None)
        if self._dispatcher is None and isinstance(consumer, AIOKafkaConsumer):
            gauge_in_flight = self.metrics.in_flight.labels(**self._labels)
            gauge_paused = self.metrics.paused_partitions.labels(**self._labels)
            gauge_assigned = self.metrics.assigned_partitions.labels(**self._labels)
            commits = self.metrics.commits.labels(**self._labels)

            def on_load(in_flight: int, paused: int, assigned: int) -> None:
                gauge_in_flight.set(in_flight)
                gauge_paused.set(paused)
                gauge_assigned.set(assigned)

            self._dispatcher = KeyOrderedDispatcher(
                consumer,
                self._process,
                self._policy.limits,
                name=f"{self.service} {self.topic}",
                on_commit=lambda partitions: commits.inc(partitions),
                on_load=on_load,
            )
        return self._dispatcher

    async def on_message(self, body: Any) -> None:
        """One fetched batch: each record goes to the dispatcher, which returns at once (on the
        in-memory test broker, with nothing to commit to, each is handled inline)."""
        message: KafkaMessage = body  # what message_itself decoded it to
        records = records_of(message)
        dispatcher = self.dispatcher()
        for record in records:
            key = record.key
            # The key is the request_id, even when the value is unreadable: every line logged
            # while the record is handled carries it.
            token = current_request_id.set((key or b"").decode("utf-8", errors="replace"))
            try:
                if dispatcher is None:
                    await self._process(record)
                else:
                    tp = TopicPartition(record.topic, record.partition)
                    dispatcher.submit(tp, record.offset, key, record)
            finally:
                current_request_id.reset(token)
        self._observe_lag(records)
        if dispatcher is not None:
            # The consumer loop fetches again when this returns: not before there is room, and
            # then no more records than there are free slots (FastStream reads max_records at
            # every fetch; slots only free up between now and then). With none free (a
            # consumer full for long, all partitions paused) the fetch gets nothing anyway.
            await dispatcher.room()
            self._subscriber.max_records = max(dispatcher.free_slots, 1)

    async def close(self) -> None:
        """Shutdown: let in-flight records finish (bounded) and commit what they completed."""
        if self._dispatcher is not None:
            await self._dispatcher.close()

    def _observe_lag(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        consumer = getattr(self._subscriber, "consumer", None)
        if not isinstance(consumer, AIOKafkaConsumer):
            return
        last = {r.partition: r for r in records}  # the newest of each partition says it all
        for partition, record in last.items():
            highwater = consumer.highwater(TopicPartition(record.topic, partition))
            if highwater is not None:
                gauge = self._lag.get(partition)
                if gauge is None:
                    gauge = self.metrics.consumer_lag.labels(
                        **self._labels, partition=str(partition)
                    )
                    self._lag[partition] = gauge
                gauge.set(max(highwater - record.offset - 1, 0))

    # -- one record, in its own task ---------------------------------------------------------

    async def _process(self, record: ConsumerRecord[Any, Any]) -> None:
        """Decode, handle, publish (or dead-letter); returns once the outcome is acknowledged."""
        with (
            consuming(record, self._group_id, current_request_id.get()),
            self._handler_seconds.time(),
        ):
            try:
                event = decode_event(
                    self.event_type, record.value or b"", self._policy.max_message_bytes
                )
                publications = await self._handle_with_retries(event)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                error_type = describe_error(error)[0]
                self.metrics.failed.labels(**self._labels, error_type=error_type).inc()
                await self._dead_letter(record, error)
            else:
                await self._publish_all(publications)
                self._handled.inc()

    async def _handle_with_retries(self, event: E) -> Sequence[Publication]:
        started = time.monotonic()
        try:  # the common case, without building a retry loop for every record
            return await self._handler(event)
        except TransientError as first:
            if self._policy.max_attempts <= 1:
                raise RetryBudgetExhausted(first, 1, time.monotonic() - started) from first
            self._count_retry(1, first)
        policy = self._policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts - 1)
            | stop_after_delay(max(policy.retry_budget_s - (time.monotonic() - started), 0)),
            wait=wait_exponential_jitter(
                multiplier=policy.initial_backoff_s,
                max=policy.max_backoff_s,
                jitter=policy.initial_backoff_s,
            ),
            retry=retry_on(TransientError),
            before_sleep=lambda state: self._count_retry(
                state.attempt_number + 1, state.outcome.exception() if state.outcome else None
            ),
            reraise=True,
        )
        await asyncio.sleep(policy.initial_backoff_s)
        try:
            return await retrying(self._handler, event)
        except TransientError as error:
            attempts = 1 + retrying.statistics.get("attempt_number", 1)
            raise RetryBudgetExhausted(error, attempts, time.monotonic() - started) from error

    def _count_retry(self, attempt: int, error: BaseException | None) -> None:
        self._retries.inc()
        # The first retries of a record are worth a line; the rest only while debugging.
        level = logging.WARNING if attempt <= 3 else logging.DEBUG
        log.log(
            level,
            "%s: transient failure (attempt %d), retrying: %s",
            self.service,
            attempt,
            type(error).__name__,
        )

    async def _publish_all(self, publications: Sequence[Publication]) -> None:
        sends = [
            self._publisher.send(EventRecord.of(p.event), topic=self._topic_prefix + p.topic)
            for p in publications
        ]
        if len(sends) == 1:  # the common case, without gather's futures
            await sends[0]
        else:  # concurrently: one round trip for all outputs, batched by the producer
            await asyncio.gather(*sends)

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], error: BaseException) -> None:
        error_type, reason = describe_error(error)
        attempts = error.attempts if isinstance(error, RetryBudgetExhausted) else 1
        headers = dead_letter_headers(
            original=headers_as_text(record.headers),
            service=self.service,
            error_type=error_type,
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
        )
        log.error(
            "%s: dead-lettering %s[%d]@%d: %s: %s",
            self.service,
            record.topic,
            record.partition,
            record.offset,
            error_type,
            reason,
        )
        body = record.value or b""
        if len(body) > _MAX_DEAD_LETTER_BYTES:
            # Beyond what any producer of ours can write: keep the head, say how much was cut,
            # rather than block the partition on a record that can never be dead-lettered whole.
            headers[TRUNCATED_HEADER] = str(len(body))
            body = body[:_MAX_DEAD_LETTER_BYTES]
        dead = EventRecord(value=body, key=record.key, headers=headers, correlation_id=None)
        await self._publisher.send(dead, topic=dead_letter_topic(self.topic))
        self.metrics.dead_letters.labels(**self._labels, error_type=error_type).inc()
